#include "lsp/server.hpp"

#include "base/hash.hpp"
#include "lsp/translate.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "report/model.hpp"
#include "report/render.hpp"
#include "report/report_file.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace torchexam::lsp {
namespace fs = std::filesystem;
namespace method = protocol::method;
namespace rpc = protocol::rpc;
using protocol::RpcError;
using Reply = protocol::Binder::Reply;

namespace {

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

const char* kSolution = "solution.cpp";

}  // namespace

LspServer::LspServer(Endpoint& editor, Endpoint& daemon, std::string version, std::function<void(int)> on_exit)
    : editor_(editor),
      daemon_(daemon),
      version_(std::move(version)),
      on_exit_(std::move(on_exit)),
      diagnostics_(editor),
      finder_(daemon, [this](const std::string& message) { show(MessageType::error, "TorchExam: " + message); }) {}

void LspServer::bind_editor(protocol::Binder& b) {
  b.method("initialize", [this](const json::value& p, Reply reply) { reply(initialize(p)); });
  b.method("initialized", [this](const json::value&, Reply) { initialized(); });
  b.method("shutdown", [this](const json::value&, Reply reply) {
    shutdown_ = true;
    reply(json::value(nullptr));
  });
  b.method("exit", [this](const json::value&, Reply) { on_exit_(shutdown_ ? 0 : 1); });
  b.method("textDocument/didOpen", [this](const json::value& p, Reply) {
    if (auto path = path_of_uri(text_document_params(p).uri)) diagnostics_.republish(*path);
  });
  b.method("textDocument/didClose", [](const json::value&, Reply) {});
  b.method("textDocument/didSave", [this](const json::value& p, Reply) { saved(p); });
  b.method("textDocument/codeLens", [this](const json::value& p, Reply reply) { code_lens(p, std::move(reply)); });
  b.method("textDocument/codeAction", [this](const json::value& p, Reply reply) { code_action(p, std::move(reply)); });
  b.method("workspace/executeCommand",
           [this](const json::value& p, Reply reply) { execute_command(p, std::move(reply)); });
}

void LspServer::bind_daemon(protocol::Binder& b) {
  b.bind(rpc::submission_progress, [this](const ProgressNote& p) { on_progress(p); });
  b.bind(rpc::submission_finished, [this](const protocol::Finished& f) { on_finished(f); });
  b.bind(rpc::exam_timer, [this](const protocol::Timer& t) { on_timer(t); });
  b.bind(rpc::exam_closed, [this](const protocol::Closed& c) { on_closed(c); });
  b.bind(rpc::workspace_diagnostics, [this](const protocol::SyntaxCheck& c) { on_syntax_check(c); });
}

json::value LspServer::initialize(const json::value& params) {
  const InitializeParams p = initialize_params(params);
  if (on_initialize_) on_initialize_(p);
  caps_ = p.capabilities;
  finder_.set_root(p.root);
  progress_ = std::make_unique<ProgressReporter>(editor_, caps_.work_done_progress);
  // Against a server the editor sends the saved text (a local daemon
  // watches the files instead).
  json::object sync{{"openClose", true}, {"change", 0}};
  if (finder_.remote()) sync["save"] = {{"includeText", true}};
  json::object capabilities{
      {"textDocumentSync", std::move(sync)},
      {"codeLensProvider", {{"resolveProvider", false}}},
      {"codeActionProvider",
       caps_.code_action_literals ? json::value{{"codeActionKinds", json::array{"source"}}} : json::value(true)},
      {"executeCommandProvider",
       {{"commands", json::array{kSubmitCommand, kStatusCommand, kHistoryCommand, kRestoreCommand, kReportCommand}}}},
      {"experimental", {{"torchexamTimer", true}}},
  };
  return {{"capabilities", std::move(capabilities)}, {"serverInfo", {{"name", "torchexam"}, {"version", version_}}}};
}

void LspServer::initialized() {
  initialized_ = true;
  finder_.find([this](const protocol::ExamStatus& st) { session_found(st); },
               [](const RpcError&) {});  // the finder has told the user
}

void LspServer::session_found(const protocol::ExamStatus& st) {
  for (const auto& t : st.tasks) diagnostics_.set_syntax(t.folder / kSolution, to_lsp(t.diagnostics, "syntax"));
  if (caps_.timer_notification)
    editor_.notify("torchexam/timer", json::object{{"session", st.session},
                                                   {"remaining_s", st.remaining_s},
                                                   {"warning_minutes", nullptr},
                                                   {"state", to_string(st.state)}});
  editor_.notify("window/logMessage",
                 show_message(MessageType::info, fmt::format("torchexam: session {} ({}, {}), {} left", st.session,
                                                             st.mode, to_string(st.state), remaining_text(st.remaining_s))));
}

void LspServer::connection_lost(const std::string& message) {
  reconnecting_ = true;
  show(MessageType::warning, "TorchExam: " + message);
  finder_.unavailable(message, false, true);  // said above
}

void LspServer::reconnected(const std::string& message) {
  reconnecting_ = false;
  finder_.available();
  show(MessageType::info, "TorchExam: " + message);
  if (!initialized_) return;
  finder_.find(
      [this](const protocol::ExamStatus& st) {
        session_found(st);
        refresh_lenses();
        // A grading may have ended while we were away: its note went to nobody.
        for (int64_t id : std::set<int64_t>(gradings_))
          request(daemon_, rpc::submission_get, protocol::SubmissionParams{id}, [this](Typed<protocol::Submission> r) {
            const auto* s = std::get_if<protocol::Submission>(&r);
            if (!s || !gradings_.contains(s->submission)) return;
            if (s->state != SubmissionState::finished && s->state != SubmissionState::cancelled) return;
            on_finished({s->session, s->submission, s->task, s->state, s->verdict, s->metric, s->score, s->message});
            recovered_.insert(s->submission);  // its own note, had it been on its way, is not shown twice
          });
        auto saves = std::move(unsent_saves_);
        unsent_saves_.clear();
        for (auto& [path, text] : saves) save(path, std::move(text));
      },
      [](const RpcError&) {});
}

void LspServer::code_lens(const json::value& params, Reply reply) {
  const auto path = path_of_uri(text_document_params(params).uri);
  if (!path || path->filename() != kSolution) return reply(json::value(json::array()));
  finder_.find(
      [path = *path, reply](const protocol::ExamStatus& st) {
        const auto* task = task_of(st, path);
        if (!task) return reply(json::value(json::array()));
        const Range top{{0, 0}, {0, 0}};
        json::array lenses{
            to_json(CodeLens{top, {"Submit & grade", kSubmitCommand, {json::value(task->id)}}}),
            to_json(CodeLens{top, {lens_title(*task), kHistoryCommand, {json::value(task->id)}}}),
            to_json(CodeLens{top, {"Open report", kReportCommand, {json::value(task->id)}}}),
        };
        reply(json::value(std::move(lenses)));
      },
      [reply](const RpcError&) { reply(json::value(json::array())); });
}

void LspServer::code_action(const json::value& params, Reply reply) {
  const auto path = path_of_uri(text_document_params(params).uri);
  if (!path || path->filename() != kSolution) return reply(json::value(json::array()));
  finder_.find(
      [this, path = *path, reply](const protocol::ExamStatus& st) {
        const auto* task = task_of(st, path);
        if (!task) return reply(json::value(json::array()));
        const Command commands[] = {
            {fmt::format("TorchExam: submit {} & grade", task->id), kSubmitCommand, {json::value(task->id)}},
            {fmt::format("TorchExam: history of {} ({})", task->id, lens_title(*task)),
             kHistoryCommand,
             {json::value(task->id)}},
        };
        json::array out;
        for (const auto& c : commands) out.push_back(caps_.code_action_literals ? lsp::code_action(c) : to_json(c));
        reply(json::value(std::move(out)));
      },
      [reply](const RpcError&) { reply(json::value(json::array())); });
}

std::string LspServer::task_argument(const json::array& args, const protocol::ExamStatus& st) const {
  std::string arg;
  if (!args.empty() && args[0].is_string())
    arg = args[0].get_string();
  else if (!args.empty() && args[0].is_object())
    arg = protocol::Fields(args[0], "arguments[0]").opt_string("task").value_or("");
  if (arg.empty())
    throw RpcError(protocol::error_code::invalid_params, "this command needs a task id or a file URI as its argument");
  if (auto path = path_of_uri(arg)) {
    const auto* t = task_of(st, *path);
    if (!t)
      throw RpcError(protocol::error_code::invalid_params, path->string() + " is not in a task folder of this exam");
    return t->id;
  }
  return arg;
}

void LspServer::execute_command(const json::value& params, Reply reply) {
  const ExecuteCommandParams p = execute_command_params(params);
  auto forward = [reply](Result r) {
    if (auto* e = std::get_if<RpcError>(&r)) return reply(*e);
    reply(std::move(std::get<json::value>(r)));
  };
  auto fail = [reply](const RpcError& e) { reply(e); };
  if (p.command == kSubmitCommand) return submit(p.arguments, reply);
  if (p.command == kHistoryCommand) return history(p.arguments, reply);
  if (p.command == kReportCommand) return open_report(p.arguments, reply);
  if (p.command == kStatusCommand) {
    return finder_.find(
        [this, forward](const protocol::ExamStatus& st) {
          // The daemon's answer as it is: the editor gets the summary.
          daemon_.request(method::exam_status, json::value_from(protocol::SessionParams{st.session, ""}), forward);
        },
        fail);
  }
  if (p.command == kRestoreCommand) {
    if (p.arguments.empty() || !p.arguments[0].is_number())
      throw RpcError(protocol::error_code::invalid_params, "torchexam.restore needs a submission id as its argument");
    return daemon_.request(method::submission_restore,
                           json::value_from(protocol::SubmissionParams{p.arguments[0].to_number<int64_t>()}), forward);
  }
  throw RpcError(protocol::error_code::invalid_params, "unknown command '" + p.command + "'");
}

void LspServer::with_task(const json::array& args, Reply reply, TaskCallback then) {
  finder_.find(
      [this, args, reply, then](const protocol::ExamStatus& st) {
        std::string task;
        try {
          task = task_argument(args, st);
        } catch (const RpcError& e) {
          return reply(e);
        }
        then(st, task);
      },
      [reply](const RpcError& e) { reply(e); });
}

void LspServer::submit(const json::array& args, Reply reply) {
  with_task(args, reply, [this, reply](const protocol::ExamStatus& st, const std::string& task) {
    if (finder_.remote()) {  // the file goes to the server
      const auto* t = find_task(st, task);
      const fs::path file = t ? t->folder / kSolution : fs::path(task) / kSolution;
      std::string source;
      try {
        source = read_file(file);
      } catch (const std::exception& e) {
        return reply(RpcError(protocol::error_code::invalid_params, "cannot read " + file.string() + ": " + e.what()));
      }
      return request(daemon_, rpc::task_upload, protocol::UploadParams{st.session, "", task, kSolution, source},
                     [this, task, session = st.session, reply](Typed<protocol::Uploaded> r) {
                       if (auto* e = std::get_if<RpcError>(&r)) return reply(*e);
                       const auto& u = std::get<protocol::Uploaded>(r);
                       grading(u.submission);
                       reply(json::value{{"session", session},
                                         {"task", task},
                                         {"submission", u.submission},
                                         {"queue_position", u.queue_position}});
                     });
    }
    request(daemon_, rpc::task_submit, protocol::SubmitParams{st.session, "", task, kSolution},
            [this, task, session = st.session, reply](Typed<protocol::Submitted> r) {
              if (auto* e = std::get_if<RpcError>(&r)) return reply(*e);
              const auto& s = std::get<protocol::Submitted>(r);
              grading(s.submission);
              reply(json::value{{"session", session},
                                {"task", task},
                                {"submission", s.submission},
                                {"queue_position", s.queue_position}});
            });
  });
}

void LspServer::history(const json::array& args, Reply reply) {
  with_task(args, reply, [this, reply](const protocol::ExamStatus& st, const std::string& task) {
    request(daemon_, rpc::submission_list, protocol::SubmissionListParams{st.session, "", task},
            [this, task, workspace = st.workspace, reply](Typed<protocol::SubmissionList> r) {
              if (auto* e = std::get_if<RpcError>(&r)) return reply(*e);
              const auto& list = std::get<protocol::SubmissionList>(r);
              if (caps_.show_document) show_report(workspace, task, list);
              reply(json::value_from(list));
            });
  });
}

void LspServer::open_report(const json::array& args, Reply reply) {
  auto write_and_show = [this, reply](const protocol::ReportParams& params, const std::string& task) {
    request(daemon_, rpc::report_data, params, [this, task, reply](Typed<protocol::ReportData> r) {
      if (auto* e = std::get_if<RpcError>(&r)) return reply(*e);
      const auto& data = std::get<protocol::ReportData>(r);
      const fs::path file = report::default_report_path(finder_.to_local(data.status.workspace), task, 0);
      try {
        report::write_report(file, report::render_html(report::build_report(data)));
      } catch (const std::exception& e) {
        return reply(RpcError(protocol::error_code::internal_error, e.what()));
      }
      const std::string uri = file_uri(file);
      if (caps_.show_document)
        editor_.request("window/showDocument",
                        json::object{{"uri", uri}, {"external", !caps_.report_view}, {"takeFocus", true}},
                        [](Result) {});
      else
        show(MessageType::info, "TorchExam: the report is in " + file.string());
      reply(json::value{{"file", file.string()}, {"uri", uri}});
    });
  };
  if (args.empty())  // the session's report
    return finder_.find(
        [write_and_show](const protocol::ExamStatus& st) { write_and_show({st.session, "", "", 0}, ""); },
        [reply](const RpcError& e) { reply(e); });
  with_task(args, reply, [write_and_show](const protocol::ExamStatus& st, const std::string& task) {
    write_and_show({st.session, "", task, 0}, task);
  });
}

void LspServer::show_report(const fs::path& workspace, const std::string& task, const protocol::SubmissionList& list) {
  // A Markdown table in a hidden folder, which the daemon's watcher ignores.
  const fs::path report = workspace / ".torchexam" / fmt::format("history-{}.md", task);
  std::error_code ec;
  fs::create_directories(report.parent_path(), ec);
  std::ofstream out(report);
  out << history_markdown(task, list.submissions);
  out.close();
  if (!out)
    return editor_.notify("window/logMessage",
                          show_message(MessageType::warning, "torchexam: cannot write " + report.string()));
  editor_.request("window/showDocument", json::object{{"uri", file_uri(report)}, {"takeFocus", true}}, [](Result) {});
}

void LspServer::on_progress(const ProgressNote& p) {
  if (!finder_.ours(p.session)) return look_for(p.session);
  grading(p.submission);
  if (progress_) progress_->update(p);
  // A client that shows reports itself also draws the live loss curve: it
  // gets the daemon's note as it is.
  if (caps_.report_view) editor_.notify("torchexam/progress", json::value_from(p));
}

void LspServer::look_for(const std::string& session) {
  // Perhaps a session started here after we did: look once per session id.
  if (!finder_.last() && looked_for_.insert(session).second)
    finder_.find([](const protocol::ExamStatus&) {}, [](const RpcError&) {});
}

void LspServer::on_finished(const protocol::Finished& f) {
  if (!finder_.ours(f.session)) return;
  if (recovered_.erase(f.submission)) return;  // shown already, found finished after a reconnect
  gradings_.erase(f.submission);
  if (progress_) progress_->finish(f);
  show(finished_type(f), finished_message(f));
  if (f.state == SubmissionState::finished) {
    request(daemon_, rpc::submission_get, protocol::SubmissionParams{f.submission}, [this](Typed<protocol::Submission> r) {
      const auto* s = std::get_if<protocol::Submission>(&r);
      if (!s || !finder_.last()) return;
      const auto* task = find_task(*finder_.last(), s->task);
      if (!task || s->file != kSolution) return;
      const fs::path file = task->folder / s->file;
      diagnostics_.set_submission(file, submission_diagnostics(*s, read_text(file)));
    });
  }
  finder_.find([this](const protocol::ExamStatus&) { refresh_lenses(); }, [](const RpcError&) {});
}

void LspServer::on_timer(const protocol::Timer& t) {
  if (!finder_.ours(t.session)) return look_for(t.session);
  if (caps_.timer_notification)
    editor_.notify(
        "torchexam/timer",
        json::object{{"session", t.session},
                     {"remaining_s", t.remaining_s},
                     {"warning_minutes", t.warning_minutes ? json::value(*t.warning_minutes) : json::value(nullptr)},
                     {"state", to_string(finder_.last()->state)}});
  if (t.warning_minutes)
    show(MessageType::warning, fmt::format("TorchExam: {} minute{} left in the exam", *t.warning_minutes,
                                           *t.warning_minutes == 1 ? "" : "s"));
}

void LspServer::on_closed(const protocol::Closed& c) {
  if (!finder_.ours(c.session)) return;
  finder_.last()->state = SessionState::closed;
  if (caps_.timer_notification)
    editor_.notify(
        "torchexam/timer",
        json::object{{"session", c.session}, {"remaining_s", 0.0}, {"warning_minutes", nullptr}, {"state", "closed"}});
  show(MessageType::warning, "TorchExam: the exam has closed; submissions made before the deadline are still graded");
}

void LspServer::on_syntax_check(const protocol::SyntaxCheck& c) {
  if (!finder_.ours(c.session) && !finder_.may_be_ours(c.file)) return;
  diagnostics_.set_syntax(finder_.to_local(c.file), to_lsp(c.diagnostics, "syntax"));
}

void LspServer::set_remote(fs::path local) { finder_.set_remote(std::move(local)); }

void LspServer::saved(const json::value& params) {
  if (!finder_.remote()) return;  // the daemon's watcher sees local saves
  const auto path = path_of_uri(text_document_params(params).uri);
  if (!path) return;
  save(*path, protocol::Fields(params).opt_string("text"));
}

void LspServer::save(const fs::path& path, std::optional<std::string> text) {
  finder_.find(
      [this, path, text](const protocol::ExamStatus& st) {
        const auto* task = task_of(st, path);
        if (!task || path.parent_path() != task->folder) return;  // only a file directly in a task folder
        std::string source;
        if (text) source = *text;
        else
          try {
            source = read_file(path);
          } catch (const std::exception&) {
            return;
          }
        request(daemon_, rpc::task_save,
                protocol::UploadParams{st.session, "", task->id, path.filename().string(), std::move(source)},
                [this, path, text](Typed<protocol::Saved> r) {
                  const auto* e = std::get_if<RpcError>(&r);
                  if (!e) return;
                  if (reconnecting_) {  // the connection dropped under it: send it again once back
                    unsent_saves_.try_emplace(path, text);
                    return;
                  }
                  show(MessageType::warning, fmt::format("TorchExam: the server did not take {} for its check: {}",
                                                         path.filename().string(), e->what()));
                });
      },
      [this, path, text](const RpcError&) {
        if (reconnecting_) unsent_saves_[path] = text;  // the latest save of the file
      });
}

void LspServer::daemon_unavailable(const std::string& why) {
  reconnecting_ = false;
  unsent_saves_.clear();
  finder_.unavailable(why, initialized_);
}

void LspServer::show(MessageType type, const std::string& message) {
  editor_.notify("window/showMessage", show_message(type, message));
}

void LspServer::refresh_lenses() {
  if (caps_.code_lens_refresh) editor_.request("workspace/codeLens/refresh", json::value(nullptr), [](Result) {});
}

}  // namespace torchexam::lsp
