// access.hpp — who may call what on the proctored server: one table with a
// row per method and a scope per role, checked before the Binder sees a
// request that came over TLS. A method without a row is refused to every
// role (so a method added to the daemon is closed over TLS until someone
// writes its row; tests/unit/test_access.cpp checks every bound method has
// one). The Unix socket is not gated: whoever can enter its private folder
// is the machine's user.
//
// Scopes, for a candidate (an examiner's rows are `any` or `deny`):
//   own_session     the call acts on a session: `session` becomes the
//                   candidate's current one when absent, must be one of
//                   theirs when given; `workspace` (a folder on the
//                   candidate's machine) is dropped.
//   own_submission  `submission` must belong to one of the candidate's
//                   sessions; one that does not exist is refused in the same
//                   words as another candidate's.
//   own_report      report/data: own_submission when it names a submission,
//                   else own_session.
//   own_start       exam/start: the token's environment (or a plain name of
//                   an installed one when the token has none), the server's
//                   workspace for the candidate and the server's mode; a
//                   duration or overwrite from the candidate is refused.
//
// Failure: a refusal is RpcError(forbidden) naming the method or the thing
// refused and what the candidate may do instead; no refusal says whether
// something of another candidate exists. Threads: the io thread.
#pragma once

#include "daemon/credentials.hpp"
#include "protocol/jsonrpc.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace torchexam::daemon {

enum class Scope { deny, any, own_session, own_submission, own_report, own_start };

struct MethodRule {
  std::string_view method;
  Scope candidate;
  Scope examiner;
  bool audited = false;  // a call that changes something: written to the audit log (store/audit_log.hpp)
  bool submits = false;  // counts against a candidate's submission rate
};

// Every row, in protocol/messages.hpp's order.
std::span<const MethodRule> access_table();
const MethodRule* find_rule(std::string_view method);

// What the gate needs to know of the server's state.
struct AccessContext {
  // The candidate's sessions live in workspaces / <name>.
  std::filesystem::path workspaces;
  std::string mode = "exam";  // the mode candidates' sessions start in
  // The candidate who owns `session` (from its workspace), if any.
  std::function<std::optional<std::string>(const std::string& session)> owner_of;
  // The candidate's newest session, if any.
  std::function<std::optional<std::string>(const std::string& candidate)> current_session;
  // The session of a submission, if it exists.
  std::function<std::optional<std::string>(int64_t submission)> session_of_submission;
  // An installed environment's folder by its name; throws std::runtime_error.
  std::function<std::filesystem::path(const std::string& name)> environment_dir;
};

// The request `m` as `who` may make it (its params rewritten by the scope),
// or the error that refuses it.
std::variant<protocol::Message, protocol::RpcError> authorize(const Principal& who, protocol::Message m,
                                                              const AccessContext& ctx);

}  // namespace torchexam::daemon
