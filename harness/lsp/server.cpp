#include "lsp/server.hpp"

#include "lsp/translate.hpp"
#include "protocol/messages.hpp"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

namespace torchexam::lsp {
namespace fs = std::filesystem;
namespace method = protocol::method;
using protocol::RpcError;
using Reply = protocol::Binder::Reply;

namespace {

bool inside(const fs::path& child, const fs::path& parent) {
  const auto rel = child.lexically_normal().lexically_relative(parent.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

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
      diagnostics_(editor) {}

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
  b.method("textDocument/codeLens", [this](const json::value& p, Reply reply) { code_lens(p, std::move(reply)); });
  b.method("textDocument/codeAction", [this](const json::value& p, Reply reply) { code_action(p, std::move(reply)); });
  b.method("workspace/executeCommand",
           [this](const json::value& p, Reply reply) { execute_command(p, std::move(reply)); });
}

void LspServer::bind_daemon(protocol::Binder& b) {
  b.method(method::submission_progress, [this](const json::value& p, Reply) { on_progress(p); });
  b.method(method::submission_finished, [this](const json::value& p, Reply) { on_finished(p); });
  b.method(method::exam_timer, [this](const json::value& p, Reply) { on_timer(p); });
  b.method(method::exam_closed, [this](const json::value& p, Reply) { on_closed(p); });
  b.method(method::workspace_diagnostics, [this](const json::value& p, Reply) { on_syntax_check(p); });
}

json::value LspServer::initialize(const json::value& params) {
  const InitializeParams p = initialize_params(params);
  caps_ = p.capabilities;
  root_ = p.root;
  progress_ = std::make_unique<ProgressReporter>(editor_, caps_.work_done_progress);
  json::object capabilities{
      {"textDocumentSync", {{"openClose", true}, {"change", 0}}},
      {"codeLensProvider", {{"resolveProvider", false}}},
      {"codeActionProvider",
       caps_.code_action_literals ? json::value{{"codeActionKinds", json::array{"source"}}} : json::value(true)},
      {"executeCommandProvider",
       {{"commands", json::array{kSubmitCommand, kStatusCommand, kHistoryCommand, kRestoreCommand}}}},
      {"experimental", {{"torchexamTimer", true}}},
  };
  return {{"capabilities", std::move(capabilities)}, {"serverInfo", {{"name", "torchexam"}, {"version", version_}}}};
}

void LspServer::initialized() {
  initialized_ = true;
  refresh_status(
      [this](const daemon_view::ExamStatus& st) {
        for (const auto& t : st.tasks) diagnostics_.set_syntax(t.folder / kSolution, to_lsp(t.diagnostics, "syntax"));
        if (caps_.timer_notification)
          editor_.notify("torchexam/timer", json::object{{"session", st.session},
                                                         {"remaining_s", st.remaining_s},
                                                         {"warning_minutes", nullptr},
                                                         {"state", st.state}});
        editor_.notify(
            "window/logMessage",
            show_message(MessageType::info, fmt::format("torchexam: session {} ({}, {}), {} left", st.session, st.mode,
                                                        st.state, remaining_text(st.remaining_s))));
      },
      [](const RpcError&) {});  // refresh_status has shown it
}

RpcError LspServer::no_session_here() const {
  return RpcError(protocol::error_code::not_found,
                  fmt::format("no exam session for {}; start one with: torchexam start ENV_DIR --workspace {}",
                              root_->string(), root_->string()));
}

json::object LspServer::where() const {
  if (root_) return {{"workspace", root_->string()}};
  return {};
}

bool LspServer::ours(const std::string& session) const { return status_ && status_->session == session; }

void LspServer::refresh_status(StatusCallback then, ErrorCallback fail) {
  if (daemon_error_) {
    if (!told_daemon_error_) {
      told_daemon_error_ = true;
      show(MessageType::error, "TorchExam: " + *daemon_error_);
    }
    fail(RpcError(protocol::error_code::internal_error, *daemon_error_));
    return;
  }
  auto accept = [this, then, fail](Result r, bool by_session) {
    if (auto* e = std::get_if<RpcError>(&r)) {
      // No session at all, or several open and none of them here.
      const bool none_here = e->code == protocol::error_code::not_found || e->code == protocol::error_code::conflict;
      const RpcError error = none_here && root_ ? no_session_here() : *e;
      if (!told_no_session_) {
        told_no_session_ = true;
        show(MessageType::error, fmt::format("TorchExam: {}", error.what()));
      }
      return fail(error);
    }
    daemon_view::ExamStatus st = daemon_view::exam_status(std::get<json::value>(r));
    if (root_ && !by_session && !inside(*root_, st.workspace) && !inside(st.workspace, *root_) &&
        root_->lexically_normal() != st.workspace.lexically_normal()) {
      const RpcError e = no_session_here();
      if (!told_no_session_) {
        told_no_session_ = true;
        show(MessageType::error, fmt::format("TorchExam: {}", e.what()));
      }
      return fail(e);
    }
    told_no_session_ = false;
    status_ = std::move(st);
    then(*status_);
  };
  daemon_.request(method::exam_status, where(), [this, accept](Result r) {
    // A workspace whose own session has closed while another is open
    // elsewhere: keep following the one we knew.
    if (std::holds_alternative<json::value>(r) && status_ && root_) {
      const auto st = daemon_view::exam_status(std::get<json::value>(r));
      if (st.session != status_->session && !inside(*root_, st.workspace) && !inside(st.workspace, *root_)) {
        daemon_.request(method::exam_status, json::object{{"session", status_->session}},
                        [accept](Result again) { accept(std::move(again), true); });
        return;
      }
    }
    accept(std::move(r), false);
  });
}

void LspServer::code_lens(const json::value& params, Reply reply) {
  const auto path = path_of_uri(text_document_params(params).uri);
  if (!path || path->filename() != kSolution) return reply(json::value(json::array()));
  refresh_status(
      [path = *path, reply](const daemon_view::ExamStatus& st) {
        const auto* task = st.task_of(path);
        if (!task) return reply(json::value(json::array()));
        const Range top{{0, 0}, {0, 0}};
        json::array lenses{
            to_json(CodeLens{top, {"Submit & grade", kSubmitCommand, {json::value(task->id)}}}),
            to_json(CodeLens{top, {lens_title(*task), kHistoryCommand, {json::value(task->id)}}}),
        };
        reply(json::value(std::move(lenses)));
      },
      [reply](const RpcError&) { reply(json::value(json::array())); });
}

void LspServer::code_action(const json::value& params, Reply reply) {
  const auto path = path_of_uri(text_document_params(params).uri);
  if (!path || path->filename() != kSolution) return reply(json::value(json::array()));
  refresh_status(
      [this, path = *path, reply](const daemon_view::ExamStatus& st) {
        const auto* task = st.task_of(path);
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

std::string LspServer::task_argument(const json::array& args, const daemon_view::ExamStatus& st) const {
  std::string arg;
  if (!args.empty() && args[0].is_string())
    arg = args[0].get_string();
  else if (!args.empty() && args[0].is_object())
    arg = protocol::Fields(args[0], "arguments[0]").opt_string("task").value_or("");
  if (arg.empty())
    throw RpcError(protocol::error_code::invalid_params, "this command needs a task id or a file URI as its argument");
  if (auto path = path_of_uri(arg)) {
    const auto* t = st.task_of(*path);
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
  if (p.command == kStatusCommand) {
    return refresh_status(
        [this, forward](const daemon_view::ExamStatus& st) {
          daemon_.request(method::exam_status, json::object{{"session", st.session}}, forward);
        },
        fail);
  }
  if (p.command == kRestoreCommand) {
    if (p.arguments.empty() || !p.arguments[0].is_number())
      throw RpcError(protocol::error_code::invalid_params, "torchexam.restore needs a submission id as its argument");
    return daemon_.request(method::submission_restore,
                           json::object{{"submission", p.arguments[0].to_number<int64_t>()}}, forward);
  }
  throw RpcError(protocol::error_code::invalid_params, "unknown command '" + p.command + "'");
}

void LspServer::with_task(const json::array& args, Reply reply, TaskCallback then) {
  refresh_status(
      [this, args, reply, then](const daemon_view::ExamStatus& st) {
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
  with_task(args, reply, [this, reply](const daemon_view::ExamStatus& st, const std::string& task) {
    daemon_.request(method::task_submit, json::object{{"session", st.session}, {"task", task}, {"file", kSolution}},
                    [task, session = st.session, reply](Result r) {
                      if (auto* e = std::get_if<RpcError>(&r)) return reply(*e);
                      const auto& v = std::get<json::value>(r);
                      reply(json::value{{"session", session},
                                        {"task", task},
                                        {"submission", v.at("submission")},
                                        {"queue_position", v.at("queue_position")}});
                    });
  });
}

void LspServer::history(const json::array& args, Reply reply) {
  with_task(args, reply, [this, reply](const daemon_view::ExamStatus& st, const std::string& task) {
    daemon_.request(method::submission_list, json::object{{"session", st.session}, {"task", task}},
                    [this, task, workspace = st.workspace, reply](Result r) {
                      if (auto* e = std::get_if<RpcError>(&r)) return reply(*e);
                      json::value list = std::get<json::value>(r);
                      if (caps_.show_document) show_report(workspace, task, list);
                      reply(std::move(list));
                    });
  });
}

void LspServer::show_report(const fs::path& workspace, const std::string& task, const json::value& list) {
  // A Markdown table in a hidden folder, which the daemon's watcher ignores.
  std::vector<daemon_view::Submission> submissions;
  if (const auto* subs = list.as_object().if_contains("submissions"); subs && subs->is_array())
    for (const auto& s : subs->get_array()) submissions.push_back(daemon_view::submission(s));
  const fs::path report = workspace / ".torchexam" / fmt::format("history-{}.md", task);
  std::error_code ec;
  fs::create_directories(report.parent_path(), ec);
  std::ofstream out(report);
  out << history_markdown(task, submissions);
  out.close();
  if (!out)
    return editor_.notify("window/logMessage",
                          show_message(MessageType::warning, "torchexam: cannot write " + report.string()));
  editor_.request("window/showDocument", json::object{{"uri", file_uri(report)}, {"takeFocus", true}}, [](Result) {});
}

void LspServer::on_progress(const json::value& params) {
  const auto p = daemon_view::progress(params);
  if (!ours(p.session)) {
    // Perhaps a session started here after we did: look once per submission.
    if (!status_ && looked_for_.insert(p.submission).second)
      refresh_status([](const daemon_view::ExamStatus&) {}, [](const RpcError&) {});
    return;
  }
  if (progress_) progress_->update(p);
}

void LspServer::on_finished(const json::value& params) {
  const auto f = daemon_view::finished(params);
  if (!ours(f.session)) return;
  if (progress_) progress_->finish(f);
  show(finished_type(f), finished_message(f));
  if (f.state == "finished") {
    daemon_.request(method::submission_get, json::object{{"submission", f.submission}}, [this](Result r) {
      if (!std::holds_alternative<json::value>(r) || !status_) return;
      const auto s = daemon_view::submission(std::get<json::value>(r));
      const auto* task = status_->task(s.task);
      if (!task || s.file != kSolution) return;
      const fs::path file = task->folder / s.file;
      diagnostics_.set_submission(file, submission_diagnostics(s, read_text(file)));
    });
  }
  refresh_status([this](const daemon_view::ExamStatus&) { refresh_lenses(); }, [](const RpcError&) {});
}

void LspServer::on_timer(const json::value& params) {
  const auto t = daemon_view::timer(params);
  if (!ours(t.session)) return;
  if (caps_.timer_notification)
    editor_.notify(
        "torchexam/timer",
        json::object{{"session", t.session},
                     {"remaining_s", t.remaining_s},
                     {"warning_minutes", t.warning_minutes ? json::value(*t.warning_minutes) : json::value(nullptr)},
                     {"state", status_->state}});
  if (t.warning_minutes)
    show(MessageType::warning, fmt::format("TorchExam: {} minute{} left ({} exactly)", *t.warning_minutes,
                                           *t.warning_minutes == 1 ? "" : "s", remaining_text(t.remaining_s)));
}

void LspServer::on_closed(const json::value& params) {
  const auto c = daemon_view::closed(params);
  if (!ours(c.session)) return;
  status_->state = "closed";
  if (caps_.timer_notification)
    editor_.notify(
        "torchexam/timer",
        json::object{{"session", c.session}, {"remaining_s", 0.0}, {"warning_minutes", nullptr}, {"state", "closed"}});
  show(MessageType::warning, "TorchExam: the exam has closed; submissions made before the deadline are still graded");
}

void LspServer::on_syntax_check(const json::value& params) {
  auto c = daemon_view::syntax_check(params);
  const bool mine = ours(c.session) || (!status_ && root_ && inside(c.file, *root_));
  if (!mine) return;
  diagnostics_.set_syntax(c.file, to_lsp(c.diagnostics, "syntax"));
}

void LspServer::daemon_unavailable(const std::string& why) {
  if (daemon_error_) return;
  daemon_error_ = why;
  if (initialized_) {
    told_daemon_error_ = true;
    show(MessageType::error, "TorchExam: " + why);
  }
}

void LspServer::show(MessageType type, const std::string& message) {
  editor_.notify("window/showMessage", show_message(type, message));
}

void LspServer::refresh_lenses() {
  if (caps_.code_lens_refresh) editor_.request("workspace/codeLens/refresh", json::value(nullptr), [](Result) {});
}

}  // namespace torchexam::lsp
