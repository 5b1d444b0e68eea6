#include "daemon/access.hpp"

#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"

#include <fmt/format.h>

#include <array>

namespace torchexam::daemon {
namespace json = boost::json;
using protocol::RpcError;
namespace code = protocol::error_code;
namespace method = protocol::method;

namespace {

// The table. Keep one row per method of protocol/messages.hpp and
// protocol/server_messages.hpp (auth/login and auth/whoami are answered by
// the TLS server itself, before this table: every login may make them).
constexpr bool kAudit = true, kSubmits = true;
constexpr std::array kRules = {
    MethodRule{method::exam_start, Scope::own_start, Scope::deny, kAudit},
    MethodRule{method::exam_status, Scope::own_session, Scope::any},
    MethodRule{method::exam_stop, Scope::own_session, Scope::any, kAudit},
    MethodRule{method::exam_pause, Scope::own_session, Scope::any, kAudit},
    MethodRule{method::exam_resume, Scope::own_session, Scope::any, kAudit},
    MethodRule{method::task_list, Scope::own_session, Scope::any},
    MethodRule{method::task_submit, Scope::own_session, Scope::deny, kAudit, kSubmits},
    MethodRule{method::task_upload, Scope::own_session, Scope::deny, kAudit, kSubmits},
    MethodRule{method::task_save, Scope::own_session, Scope::deny, kAudit},
    MethodRule{method::workspace_layout, Scope::own_session, Scope::any},
    MethodRule{method::submission_list, Scope::own_session, Scope::any},
    MethodRule{method::submission_get, Scope::own_submission, Scope::any},
    MethodRule{method::submission_cancel, Scope::own_submission, Scope::deny, kAudit},
    MethodRule{method::submission_restore, Scope::own_submission, Scope::deny, kAudit},
    MethodRule{method::env_verify, Scope::deny, Scope::any},
    MethodRule{method::daemon_info, Scope::deny, Scope::any},
    MethodRule{method::daemon_shutdown, Scope::deny, Scope::deny, kAudit},  // the Unix socket only
    MethodRule{method::report_data, Scope::own_report, Scope::any},
    MethodRule{method::rejudge_create, Scope::deny, Scope::any, kAudit},
    MethodRule{method::rejudge_get, Scope::deny, Scope::any},
    MethodRule{method::rejudge_apply, Scope::deny, Scope::any, kAudit},
    MethodRule{method::rejudge_cancel, Scope::deny, Scope::any, kAudit},
    MethodRule{method::exam_list, Scope::deny, Scope::any},
    MethodRule{method::exam_extend, Scope::deny, Scope::any, kAudit},
};

RpcError forbidden(std::string message) { return RpcError(code::forbidden, std::move(message)); }

json::object& params_object(protocol::Message& m) {
  if (m.params.is_null()) m.params = json::object();
  if (!m.params.is_object()) throw RpcError(code::invalid_params, "params: expected an object");
  return m.params.as_object();
}

std::string string_field(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  if (!v || v->is_null()) return "";
  if (!v->is_string()) throw RpcError(code::invalid_params, fmt::format("params.{}: expected a string", key));
  return std::string(v->get_string());
}

// The candidate's session for a call that names `asked` ("" : their current one).
std::string own_session(const Principal& who, const std::string& asked, const AccessContext& ctx) {
  if (asked.empty()) {
    if (auto current = ctx.current_session(who.name)) return *current;
    throw RpcError(code::not_found,
                   "you have no exam session on this server yet; start one with `torchexam --server "
                   "HOST:PORT ... start ENVIRONMENT`");
  }
  if (ctx.owner_of(asked) != who.name)
    throw forbidden(fmt::format("session '{}' is not one of yours; leave --session out to use your own", asked));
  return asked;
}

void check_own_submission(const Principal& who, const json::object& o, const AccessContext& ctx) {
  const json::value* v = o.if_contains("submission");
  if (!v || (!v->is_int64() && !v->is_uint64()))
    throw RpcError(code::invalid_params, "params.submission: expected a submission id (an integer)");
  const int64_t id = v->to_number<int64_t>();
  const auto session = ctx.session_of_submission(id);
  if (!session || ctx.owner_of(*session) != who.name)
    throw forbidden(fmt::format("submission {} is not one of yours; `torchexam history TASK` lists yours", id));
}

void scope_session(const Principal& who, protocol::Message& m, const AccessContext& ctx) {
  json::object& o = params_object(m);
  o["session"] = own_session(who, string_field(o, "session"), ctx);
  o.erase("workspace");  // a folder on the candidate's machine; their session is known by the token
}

void scope_start(const Principal& who, protocol::Message& m, const AccessContext& ctx) {
  protocol::StartParams p = protocol::read_params<protocol::StartParams>(m.params);
  if (p.duration_s) throw forbidden("the server sets the exam's duration; leave --duration out");
  if (p.overwrite) throw forbidden("a candidate cannot overwrite a workspace on the server; ask the examiner");
  if (!who.environment.empty()) {
    const std::filesystem::path mine(who.environment);
    if (!p.environment.empty() && p.environment != who.environment && p.environment != mine.filename().string())
      throw forbidden(fmt::format("your token is for the exam environment '{}', not '{}'", mine.filename().string(),
                                  p.environment));
    p.environment = who.environment;
  } else {
    if (p.environment.empty() || p.environment.find('/') != std::string::npos || p.environment.front() == '.')
      throw forbidden(
          "name an installed exam environment (e.g. practice), not a folder: the environment lives on "
          "the server");
    try {
      p.environment = ctx.environment_dir(p.environment).string();
    } catch (const std::runtime_error& e) {
      throw RpcError(code::environment_error, e.what());
    }
  }
  p.workspace = (ctx.workspaces / who.name).string();
  p.mode = ctx.mode;
  m.params = json::value_from(p);
}

}  // namespace

std::span<const MethodRule> access_table() { return kRules; }

const MethodRule* find_rule(std::string_view name) {
  for (const auto& r : kRules)
    if (r.method == name) return &r;
  return nullptr;
}

std::variant<protocol::Message, RpcError> authorize(const Principal& who, protocol::Message m,
                                                    const AccessContext& ctx) {
  try {
    const MethodRule* rule = find_rule(m.method);
    if (!rule) return forbidden(fmt::format("{} is not available over the network", m.method));
    const Scope scope = who.role == Role::examiner ? rule->examiner : rule->candidate;
    switch (scope) {
      case Scope::deny:
        return forbidden(fmt::format("{} is not open to a{} {} on this server", m.method,
                                     who.role == Role::examiner ? "n" : "", to_string(who.role)));
      case Scope::any:
        break;
      case Scope::own_session:
        scope_session(who, m, ctx);
        break;
      case Scope::own_submission:
        check_own_submission(who, params_object(m), ctx);
        break;
      case Scope::own_report: {
        const json::object& o = params_object(m);
        const json::value* s = o.if_contains("submission");
        if (s && !(s->is_number() && s->to_number<double>() == 0))
          check_own_submission(who, o, ctx);
        else
          scope_session(who, m, ctx);
        break;
      }
      case Scope::own_start:
        scope_start(who, m, ctx);
        break;
    }
    return m;
  } catch (const RpcError& e) {
    return e;
  }
}

}  // namespace torchexam::daemon
