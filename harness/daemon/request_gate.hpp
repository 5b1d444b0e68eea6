// request_gate.hpp — what the proctored server does with one request body
// from a connection that has logged in (tls_server.hpp owns the transport,
// the handshake and the login; this unit owns no socket, so a fuzzer drives
// it with bytes: tests/fuzz/fuzz_server.cpp). In order:
//  1. JSON-RPC parse; a response from the client is ignored.
//  2. The candidate's request rate (rate_limits.hpp RequestBucket; every
//     body counts: a request, a notification, or one that does not parse,
//     which is then answered with its parse error): beyond it, error
//     rate_limited with "try again in S s" and data {"retry_after_ms"};
//     the first refusal of a run is logged and audited, and the run's count
//     when it ends.
//  3. Answered here: auth/login again (invalid_request), auth/whoami (the
//     Identity), $/ping ({}).
//  4. The access table (access.hpp): a refusal is answered and audited.
//  5. A candidate's submission rate (SubmissionWindow; task/submit and
//     task/upload): beyond it, rate_limited; a call that fails gives its
//     count back.
//  6. The Binder, with the call as the access table rewrote it; a call the
//     table marks audited is written to the audit log with its outcome
//     (an upload with its source's SHA-256).
// Examiners pass 2 and 5 unlimited: the limits are per candidate.
//
// Contract: every request gets exactly one reply through `reply`, at once
// or later (a dispatched call answers when the core does; `reply` must then
// cope with a connection that has gone). Nothing throws out of handle().
// Threads: the io thread.
#pragma once

#include "daemon/access.hpp"
#include "daemon/credentials.hpp"
#include "daemon/rate_limits.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/server_messages.hpp"
#include "store/audit_log.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace torchexam::daemon {

// Who sent a body, from where; `who` is empty before a login.
struct Caller {
  std::optional<Principal> who;
  std::string peer;  // host:port
};

struct GateOptions {
  AccessContext access;
  // One line per event worth a look (default: stderr).
  std::function<void(const std::string&)> log;
  // The audit log (store/audit_log.hpp); empty: none.
  std::function<void(store::AuditRecord)> audit;
  int submissions_per_minute = 0;  // 0: no limit
  double requests_per_second = 0;  // 0: no limit
  double request_burst = 1;
  // Told to clients in the Identity (the server's --keepalive-timeout).
  std::optional<double> keepalive_s;
};

class RequestGate {
 public:
  using Reply = std::function<void(std::string body)>;
  RequestGate(GateOptions options, const protocol::Binder& binder);

  // One body from `caller` (logged in), at `now`.
  void handle(const Caller& caller, std::string_view body, const Reply& reply, SteadyTime now);

  // auth/login's and auth/whoami's result for `who`.
  protocol::Identity identity(const Principal& who) const;
  void audit(const Caller& c, const std::string& event, const std::string& method, const std::string& detail) const;
  void log(const std::string& line) const { o_.log(line); }
  const GateOptions& options() const { return o_; }

 private:
  // False (after answering a request, whose id is `id`; nullptr for a
  // notification) when the caller is over their request rate.
  bool within_rate(const Caller& c, const std::string& method, const boost::json::value* id, const Reply& reply,
                   SteadyTime now);

  GateOptions o_;
  const protocol::Binder& binder_;
  RequestBucket requests_;
  SubmissionWindow submissions_;
  std::map<std::string, int> refused_run_;  // per candidate, requests refused since the last one let in
};

// "who" as the log writes it: "PEER (candidate ana)".
std::string describe(const Caller& c);

}  // namespace torchexam::daemon
