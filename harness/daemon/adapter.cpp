#include "daemon/adapter.hpp"

#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "config/config.hpp"
#include "daemon/report_source.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "sandbox/text.hpp"

#include <fmt/format.h>

#include <set>

namespace torchexam::daemon {
using namespace protocol;

namespace {

int code_for(ServiceError::Kind k) {
  switch (k) {
    case ServiceError::Kind::not_found: return error_code::not_found;
    case ServiceError::Kind::exam_closed: return error_code::exam_closed;
    case ServiceError::Kind::conflict: return error_code::conflict;
    case ServiceError::Kind::invalid_state: return error_code::invalid_state;
    case ServiceError::Kind::environment_error: return error_code::environment_error;
    case ServiceError::Kind::invalid_argument: return error_code::invalid_params;
  }
  return error_code::internal_error;
}

// Binds `call` to f(params) -> its result; ServiceError becomes its
// protocol error. The binder reads the params first.
template <class P, class R, class F>
void bind(Binder& b, const Call<P, R>& call, F f) {
  b.bind(call, [f](const P& p, Binder::TypedReply<R> reply) {
    try {
      reply(f(p));
    } catch (const ServiceError& e) {
      reply(RpcError(code_for(e.kind), e.what()));
    }
  });
}

// Binds `call` to a service call that answers later through
// ExamService::Done<C>: f(params, done) starts it, and `convert` makes the
// core's answer the result; ServiceError, thrown at once or given to
// `done`, becomes its protocol error.
template <class C, class P, class R, class F, class Convert>
void bind_async(Binder& b, const Call<P, R>& call, F f, Convert convert) {
  b.bind(call, [f, convert](const P& p, Binder::TypedReply<R> reply) {
    try {
      f(p, ExamService::Done<C>([reply, convert](std::exception_ptr error, C result) {
          if (!error) return reply(convert(result));
          try {
            std::rethrow_exception(error);
          } catch (const ServiceError& e) {
            reply(RpcError(code_for(e.kind), e.what()));
          } catch (const std::exception& e) {
            reply(RpcError(error_code::internal_error, e.what()));
          }
        }));
    } catch (const ServiceError& e) {
      reply(RpcError(code_for(e.kind), e.what()));
    }
  });
}

// task/upload's and task/save's checks, then `p.source` written over
// <task folder>/<p.file> of `session`: a source (UTF-8, kMaxUploadBytes)
// or a TorchScript model (its bytes, kMaxModelBytes). `what` ends the
// refusals ("nothing was submitted").
void write_sent_file(ExamService& s, const std::string& session, const UploadParams& p, const char* what) {
  using Kind = ServiceError::Kind;
  if (is_model_file(p.file)) {
    if (p.source.size() > kMaxModelBytes)
      throw ServiceError(Kind::invalid_argument,
                         fmt::format("the model is {} bytes, over the server's limit of {} bytes ({} MiB) for a "
                                     "TorchScript model; nothing was {}",
                                     p.source.size(), kMaxModelBytes, kMaxModelBytes >> 20, what));
  } else {
    if (p.source.size() > kMaxUploadBytes)
      throw ServiceError(Kind::invalid_argument,
                         fmt::format("the source is {} bytes, over the server's limit of {} bytes; nothing was {}",
                                     p.source.size(), kMaxUploadBytes, what));
    if (!is_valid_utf8(p.source))
      throw ServiceError(Kind::invalid_argument,
                         fmt::format("the source is not valid UTF-8 text; save it as UTF-8 and send it again (a "
                                     "TorchScript model goes under a name ending in .pt or .pth, as "
                                     "source_base64); nothing was {}",
                                     what));
  }
  if (p.file.empty() || p.file.find('/') != std::string::npos || p.file == "." || p.file == "..")
    throw ServiceError(Kind::invalid_argument, "file must be a file name in the task folder, e.g. solution.cpp");
  const ExamSummary summary = s.status(session);
  const TaskSummary* task = nullptr;
  for (const auto& t : summary.tasks)
    if (t.id == p.task) task = &t;
  if (!task) throw ServiceError(Kind::not_found, "no task '" + p.task + "' in this exam");
  if (summary.session.state != "running" && summary.session.state != "paused")
    throw ServiceError(Kind::exam_closed,
                       fmt::format("this exam session is {}; nothing was {}", summary.session.state, what));
  write_file_atomically(task->folder / p.file, p.source, Durability::synced);
}

// workspace/layout (server_messages.hpp): per task the statement and the
// server's solution.cpp, read from the session's own task folders (where
// provisioning put copies; a reference is never among them).
WorkspaceLayout workspace_layout(const ExamService& s, const std::string& session) {
  const ExamSummary summary = s.status(session);
  config::Environment env;
  try {
    env = config::load_environment(summary.session.environment_dir);
  } catch (const std::exception& e) {
    throw ServiceError(ServiceError::Kind::environment_error,
                       "the session's exam environment does not load on the server: " + std::string(e.what()));
  }
  WorkspaceLayout out{session, env.name, env.compiler_std, env.compiler_flags, env.pins.compiler_id, {}};
  for (const auto& t : summary.tasks) {
    LayoutTask task{t.id, t.title, {}};
    for (const char* name : {"README.md", "solution.cpp"}) {
      std::string text;
      try {
        text = read_file(t.folder / name);
      } catch (const std::exception&) {
        continue;  // removed on the server: the candidate's copy, if any, stays
      }
      if (text.size() > kMaxUploadBytes || !is_valid_utf8(text)) continue;  // not something a JSON string carries
      task.files.push_back({name, std::move(text)});
    }
    out.tasks.push_back(std::move(task));
  }
  return out;
}

}  // namespace

Adapter::Adapter(ExamService& service, Notify notify, std::function<void()> shutdown, DaemonInfo info)
    : service_(service), notify_(std::move(notify)) {
  auto& s = service_;
  auto sid = [&s](const auto& p) { return s.resolve(p.session, p.workspace); };
  // The two that check the machine (processes, about a second) answer
  // later, so that the io thread serves everyone else meanwhile.
  bind_async<ExamSummary>(
      binder_, rpc::exam_start,
      [&s](const StartParams& p, ExamService::Done<ExamSummary> done) {
        StartOptions o;
        o.environment = p.environment;
        o.workspace = p.workspace;
        o.mode = p.mode;
        o.duration_s = p.duration_s;
        o.overwrite = p.overwrite;
        s.start_async(o, std::move(done));
      },
      [](const ExamSummary& summary) { return exam_status(summary); });
  binder_.bind_serialized(rpc::exam_status, [this, sid](const SessionParams& p, Binder::Reply reply) {
    try {
      reply(status_reply(sid(p)));
    } catch (const ServiceError& e) {
      reply(RpcError(code_for(e.kind), e.what()));
    }
  });
  bind(binder_, rpc::exam_stop, [&s, sid](const SessionParams& p) { return exam_status(s.stop(sid(p))); });
  bind(binder_, rpc::exam_pause, [&s, sid](const SessionParams& p) { return exam_status(s.pause(sid(p))); });
  bind(binder_, rpc::exam_resume, [&s, sid](const SessionParams& p) { return exam_status(s.resume(sid(p))); });
  bind(binder_, rpc::task_list, [&s, sid](const SessionParams& p) { return TaskList{s.status(sid(p)).tasks}; });
  bind(binder_, rpc::task_submit, [&s, sid](const SubmitParams& p) {
    const int64_t id = s.submit(sid(p), p.task, p.file);
    return Submitted{id, s.queue_position(id)};
  });
  bind(binder_, rpc::submission_list, [&s, sid](const SubmissionListParams& p) {
    SubmissionList out;  // without results and curves: submission/get has them
    for (const auto& r : s.history(sid(p), p.task))
      out.submissions.push_back(submission_info(r, s.queue_position(r.id), s.judgings(r)));
    return out;
  });
  bind(binder_, rpc::submission_get, [&s](const SubmissionParams& p) {
    const store::SubmissionRecord r = s.submission(p.submission);
    Submission out = submission(r, s.queue_position(r.id), s.judgings(r));
    if (p.include_source) {
      out.with_source = true;
      std::string source = s.source_of(p.submission);
      if (is_valid_utf8(source)) out.source = std::move(source);  // else a binary file (a TorchScript model): null
    }
    return out;
  });
  bind(binder_, rpc::submission_cancel,
       [&s](const SubmissionParams& p) { return Cancelled{s.cancel(p.submission)}; });
  bind(binder_, rpc::submission_restore, [&s](const SubmissionParams& p) { return s.restore(p.submission); });
  bind_async<VerifyReport>(
      binder_, rpc::env_verify,
      [&s](const VerifyParams& p, ExamService::Done<VerifyReport> done) { s.verify_async(p.environment, std::move(done)); },
      [](const VerifyReport& r) { return r; });
  bind(binder_, rpc::daemon_info, [&s, info](const Empty&) {
    return DaemonStatus{info.pid, build_config::kVersion, info.socket, info.state_dir,
                        static_cast<int64_t>(s.sessions().size())};
  });
  bind(binder_, rpc::report_data, [&s, sid](const ReportParams& p) {
    const std::string session = p.submission != 0 ? std::string() : sid(p);
    return report_data(s, session, p.task, p.submission);
  });
  bind(binder_, rpc::rejudge_create, [&s, sid](const RejudgeCreateParams& p) {
    RejudgeSelection sel;
    sel.submission = p.submission;
    sel.task = p.task;
    if (!p.environment.empty()) sel.environment = p.environment;
    else if (p.submission == 0) sel.session = sid(p);  // a session, by id, by workspace, or the only open one
    return s.regrade(p.kind, sel, p.reason);
  });
  bind(binder_, rpc::rejudge_get, [&s](const RejudgeParams& p) { return s.rejudge(p.rejudge); });
  bind(binder_, rpc::rejudge_apply, [&s](const RejudgeParams& p) { return s.apply_rejudge(p.rejudge); });
  bind(binder_, rpc::rejudge_cancel, [&s](const RejudgeParams& p) { return s.cancel_rejudge(p.rejudge); });
  // The proctored server's examiner methods (server_messages.hpp; the
  // access table keeps them from candidates).
  bind(binder_, rpc::exam_list, [&s](const Empty&) {
    SessionList out;
    for (const auto& r : s.sessions()) out.sessions.push_back(exam_status(s.status(r.id)));
    return out;
  });
  bind(binder_, rpc::exam_extend, [&s](const ExtendParams& p) {
    if (!(p.seconds > 0)) throw ServiceError(ServiceError::Kind::invalid_argument, "seconds must be positive");
    return exam_status(s.extend(p.session, p.seconds));
  });
  bind(binder_, rpc::task_upload, [&s, sid](const UploadParams& p) {
    const std::string session = sid(p);
    write_sent_file(s, session, p, "submitted");
    const int64_t id = s.submit(session, p.task, p.file);
    return Uploaded{id, s.queue_position(id), s.submission(id).source_hash, static_cast<int64_t>(p.source.size())};
  });
  bind(binder_, rpc::task_save, [&s, sid](const UploadParams& p) {
    write_sent_file(s, sid(p), p, "saved");
    return Saved{sha256_hex(p.source), static_cast<int64_t>(p.source.size())};
  });
  bind(binder_, rpc::workspace_layout, [&s, sid](const SessionParams& p) { return workspace_layout(s, sid(p)); });
  binder_.bind(rpc::daemon_shutdown, [shutdown](const Empty&, Binder::TypedReply<Empty> reply) {
    reply(Empty{});
    shutdown();
  });
  service_.add_listener(this);
}

Adapter::~Adapter() { service_.remove_listener(this); }

Binder::SerializedResult Adapter::status_reply(const std::string& session) {
  CachedStatus& c = status_cache_[session];
  if (!c.members || c.generation != service_.generation()) {
    json::value v = json::value_from(exam_status(service_.status(session)));
    json::object& o = v.as_object();
    o.erase("remaining_s");
    o.erase("deadline_ms");
    std::string text = json::serialize(v);  // {"a":1,...} or {}
    c.members = o.empty() ? std::string("}") : "," + text.substr(1);
    c.generation = service_.generation();
  }
  // The clock fields as json::serialize writes them, then the cached
  // members, in one allocation (a json::object for the two fields cost four).
  const auto clock = service_.clock_fields(session);
  const std::string remaining = json::serialize(json::value(clock.remaining_s));
  const std::string deadline = json::serialize(json::value(clock.deadline_ms));
  constexpr std::string_view remaining_key = R"({"remaining_s":)", deadline_key = R"(,"deadline_ms":)";
  std::string text;
  text.reserve(remaining_key.size() + remaining.size() + deadline_key.size() + deadline.size() + c.members->size());
  text += remaining_key;
  text += remaining;
  text += deadline_key;
  text += deadline;
  text += *c.members;
  return {std::move(text)};
}

void Adapter::on_progress(const ProgressNote& n) {
  notify_(make_notification(method::submission_progress, json::value_from(n)), n.session);
}

void Adapter::on_finished(const store::SubmissionRecord& r) {
  notify_(make_notification(method::submission_finished, json::value_from(finished_note(r))), r.session_id);
  // A job submitted before the close finished after it: the session report
  // written at the close is brought up to date.
  refresh_report(r.session_id);
}

void Adapter::refresh_report(const std::string& session) {
  try {
    if (service_.status(session).session.state == "closed") write_session_report(service_, session);
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexamd: the report of session {} was not updated: {}\n", session, e.what());
  }
}

void Adapter::on_timer(const store::SessionRecord& s, double remaining_s, std::optional<int> warning) {
  notify_(make_notification(method::exam_timer, json::value_from(Timer{s.id, remaining_s, warning})), s.id);
}

void Adapter::on_closed(const store::SessionRecord& s) {
  Closed note{s.id, s.closed_at_ms, state_of(s), std::nullopt};
  try {
    note.report = write_session_report(service_, s.id).string();
  } catch (const std::exception& e) {  // the close itself stands; the report can be written with `torchexam report`
    fmt::print(stderr, "torchexamd: the report of session {} was not written at its close: {}\n", s.id, e.what());
  }
  notify_(make_notification(method::exam_closed, json::value_from(note)), s.id);
}

void Adapter::on_rejudge(const RejudgeProgress& p) {
  notify_(make_notification(method::rejudge_progress, json::value_from(p)), "");
  if (p.state != RejudgeState::applied) return;
  // Scores changed: the reports written at the close of the sessions touched are brought up to date.
  std::set<std::string> sessions;
  for (const auto& row : service_.rejudge(p.rejudge).rows) sessions.insert(row.session);
  for (const auto& session : sessions) refresh_report(session);
}

void Adapter::on_diagnostics(const std::string& session, const std::string& task, const std::filesystem::path& file,
                             const std::vector<Diagnostic>& diagnostics) {
  notify_(make_notification(method::workspace_diagnostics,
                            json::value_from(SyntaxCheck{session, task, file, diagnostics})),
          session);
}

}  // namespace torchexam::daemon
