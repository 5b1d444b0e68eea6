#include "daemon/adapter.hpp"

#include "base/build_config.hpp"
#include "protocol/messages.hpp"
#include "sandbox/text.hpp"

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

// Binds `name` to f(params) -> json::value with P parsed first; ServiceError
// becomes its protocol error.
template <class P, class F>
void bind(Binder& b, const char* name, F f) {
  b.method(name, [f](const json::value& params, Binder::Reply reply) {
    try {
      const P p = from_json(params, static_cast<P*>(nullptr));
      reply(f(p));
    } catch (const ServiceError& e) {
      reply(RpcError(code_for(e.kind), e.what()));
    }
  });
}

// Binds `name` to a service call that answers later through
// ExamService::Done: f(params, done) starts it; ServiceError, thrown at once
// or given to `done`, becomes its protocol error.
template <class P, class R, class F>
void bind_async(Binder& b, const char* name, F f) {
  b.method(name, [f](const json::value& params, Binder::Reply reply) {
    try {
      const P p = from_json(params, static_cast<P*>(nullptr));
      f(p, [reply](std::exception_ptr error, R result) {
        if (!error) return reply(to_json(result));
        try {
          std::rethrow_exception(error);
        } catch (const ServiceError& e) {
          reply(RpcError(code_for(e.kind), e.what()));
        } catch (const std::exception& e) {
          reply(RpcError(error_code::internal_error, e.what()));
        }
      });
    } catch (const ServiceError& e) {
      reply(RpcError(code_for(e.kind), e.what()));
    }
  });
}

}  // namespace

Adapter::Adapter(ExamService& service, std::function<void(std::string)> notify, std::function<void()> shutdown,
                 DaemonInfo info)
    : service_(service), notify_(std::move(notify)) {
  auto& s = service_;
  auto sid = [&s](const std::string& session, const std::string& workspace) { return s.resolve(session, workspace); };
  // The two that check the machine (processes, about a second) answer
  // later, so that the io thread serves everyone else meanwhile.
  bind_async<StartParams, ExamSummary>(binder_, method::exam_start, [&s](const StartParams& p, auto done) {
    StartOptions o;
    o.environment = p.environment;
    o.workspace = p.workspace;
    o.mode = p.mode;
    o.duration_s = p.duration_s;
    o.overwrite = p.overwrite;
    s.start_async(o, std::move(done));
  });
  binder_.method(method::exam_status, [this, sid](const json::value& params, Binder::Reply reply) {
    try {
      const SessionParams p = from_json(params, static_cast<SessionParams*>(nullptr));
      reply(status_reply(sid(p.session, p.workspace)));
    } catch (const ServiceError& e) {
      reply(RpcError(code_for(e.kind), e.what()));
    }
  });
  bind<SessionParams>(binder_, method::exam_stop,
                      [&s, sid](const SessionParams& p) { return to_json(s.stop(sid(p.session, p.workspace))); });
  bind<SessionParams>(binder_, method::exam_pause,
                      [&s, sid](const SessionParams& p) { return to_json(s.pause(sid(p.session, p.workspace))); });
  bind<SessionParams>(binder_, method::exam_resume,
                      [&s, sid](const SessionParams& p) { return to_json(s.resume(sid(p.session, p.workspace))); });
  bind<SessionParams>(binder_, method::task_list, [&s, sid](const SessionParams& p) {
    json::array tasks;
    for (const auto& t : s.status(sid(p.session, p.workspace)).tasks) tasks.push_back(to_json(t));
    return json::value(json::object{{"tasks", std::move(tasks)}});
  });
  bind<SubmitParams>(binder_, method::task_submit, [&s, sid](const SubmitParams& p) {
    const int64_t id = s.submit(sid(p.session, p.workspace), p.task, p.file);
    return json::value(json::object{{"submission", id}, {"queue_position", s.queue_position(id)}});
  });
  bind<SubmissionListParams>(binder_, method::submission_list, [&s, sid](const SubmissionListParams& p) {
    json::array out;
    for (const auto& r : s.history(sid(p.session, p.workspace), p.task)) {
      json::value v = to_json(r, s.queue_position(r.id));
      v.get_object().erase("result");  // the list stays small; submission/get has it
      v.get_object().erase("curve");
      out.push_back(std::move(v));
    }
    return json::value(json::object{{"submissions", std::move(out)}});
  });
  bind<SubmissionParams>(binder_, method::submission_get, [&s](const SubmissionParams& p) {
    json::value v = to_json(s.submission(p.submission), s.queue_position(p.submission));
    if (p.include_source) {
      std::string source = s.source_of(p.submission);
      if (is_valid_utf8(source))
        v.get_object()["source"] = std::move(source);
      else
        v.get_object()["source"] = nullptr;  // a binary file (a TorchScript model): not sent as text
    }
    return v;
  });
  bind<SubmissionParams>(binder_, method::submission_cancel, [&s](const SubmissionParams& p) {
    return json::value(json::object{{"cancelled", s.cancel(p.submission)}});
  });
  bind<SubmissionParams>(binder_, method::submission_restore,
                         [&s](const SubmissionParams& p) { return to_json(s.restore(p.submission)); });
  bind_async<VerifyParams, VerifyReport>(binder_, method::env_verify, [&s](const VerifyParams& p, auto done) {
    s.verify_async(p.environment, std::move(done));
  });
  bind<EmptyParams>(binder_, method::daemon_info, [&s, info](const EmptyParams&) {
    return json::value(json::object{{"pid", info.pid},
                                    {"version", build_config::kVersion},
                                    {"socket", info.socket},
                                    {"state_dir", info.state_dir},
                                    {"sessions", s.sessions().size()}});
  });
  binder_.method(method::daemon_shutdown, [shutdown](const json::value& params, Binder::Reply reply) {
    from_json(params, static_cast<EmptyParams*>(nullptr));
    reply(json::value(json::object{}));
    shutdown();
  });
  service_.add_listener(this);
}

Adapter::~Adapter() { service_.remove_listener(this); }

RawResult Adapter::status_reply(const std::string& session) {
  CachedStatus& c = status_cache_[session];
  if (c.tail.empty() || c.generation != service_.generation()) {
    json::value v = to_json(service_.status(session));
    auto& o = v.get_object();
    o.erase("remaining_s");
    o.erase("deadline_ms");
    std::string text = json::serialize(v);
    c.tail = o.empty() ? "}" : "," + text.substr(1);
    c.generation = service_.generation();
  }
  const auto clock = service_.clock_fields(session);
  RawResult out;
  out.json.reserve(c.tail.size() + 64);
  out.json = R"({"remaining_s":)";
  out.json += json::serialize(json::value(clock.remaining_s));
  out.json += R"(,"deadline_ms":)";
  out.json += std::to_string(clock.deadline_ms);
  out.json += c.tail;
  return out;
}

void Adapter::on_progress(const ProgressNote& n) {
  notify_(make_notification(method::submission_progress, to_json(n)));
}

void Adapter::on_finished(const store::SubmissionRecord& r) {
  notify_(make_notification(method::submission_finished, finished_note(r)));
}

void Adapter::on_timer(const store::SessionRecord& s, double remaining_s, std::optional<int> warning) {
  notify_(make_notification(method::exam_timer, timer_note(s, remaining_s, warning)));
}

void Adapter::on_closed(const store::SessionRecord& s) {
  notify_(make_notification(method::exam_closed, closed_note(s)));
}

void Adapter::on_diagnostics(const std::string& session, const std::string& task, const std::filesystem::path& file,
                             const std::vector<Diagnostic>& diagnostics) {
  notify_(make_notification(method::workspace_diagnostics, diagnostics_note(session, task, file.string(), diagnostics)));
}

}  // namespace torchexam::daemon
