#include "daemon/request_gate.hpp"

#include "base/hash.hpp"

#include <fmt/format.h>

#include <chrono>
#include <cmath>
#include <cstdio>

namespace torchexam::daemon {
namespace json = boost::json;
using protocol::Message;

namespace {

std::string seconds_text(std::chrono::milliseconds ms) {
  return fmt::format("{}", std::max<int64_t>(1, (ms.count() + 999) / 1000));
}

// What the audit log keeps of an audited call: an upload's source by its
// hash, anything else its params. Params that do not read (the Binder
// answers them with invalid_params) are kept as they came.
std::string audit_detail(const Message& call) {
  if (call.method == protocol::method::task_upload || call.method == protocol::method::task_save) {
    try {
      const auto p = protocol::read_params<protocol::UploadParams>(call.params);
      return fmt::format("task {}, file {}, {} bytes, source sha256 {}", p.task, p.file, p.source.size(),
                         sha256_hex(p.source));
    } catch (const protocol::RpcError& e) {
      return std::string("params do not read: ") + e.what();
    }
  }
  std::string text = json::serialize(call.params);
  if (text.size() > 2000) text = text.substr(0, 2000) + "...";
  return text;
}

}  // namespace

std::string describe(const Caller& c) {
  if (!c.who) return c.peer;
  return fmt::format("{} ({} {})", c.peer, to_string(c.who->role), c.who->name);
}

RequestGate::RequestGate(GateOptions options, const protocol::Binder& binder)
    : o_(std::move(options)),
      binder_(binder),
      requests_(o_.requests_per_second, o_.request_burst),
      submissions_(o_.submissions_per_minute) {
  if (!o_.log) o_.log = [](const std::string& line) { std::fprintf(stderr, "torchexamd: %s\n", line.c_str()); };
}

protocol::Identity RequestGate::identity(const Principal& who) const {
  protocol::Identity id{to_string(who.role), who.name, who.environment, std::nullopt, o_.keepalive_s};
  if (who.role == Role::candidate && o_.access.current_session) id.session = o_.access.current_session(who.name);
  return id;
}

void RequestGate::audit(const Caller& c, const std::string& event, const std::string& method,
                        const std::string& detail) const {
  if (!o_.audit) return;
  store::AuditRecord r;
  r.at_ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
                .count();
  if (c.who) r.who = std::string(to_string(c.who->role)) + " " + c.who->name;
  r.peer = c.peer;
  r.event = event;
  r.method = method;
  r.detail = detail;
  o_.audit(std::move(r));
}

bool RequestGate::within_rate(const Caller& c, const std::string& method, const json::value* id, const Reply& reply,
                              SteadyTime now) {
  if (c.who->role != Role::candidate) return true;
  const std::string& name = c.who->name;
  const auto wait = requests_.take(name, now);
  if (wait.count() == 0) {
    if (auto it = refused_run_.find(name); it != refused_run_.end()) {
      if (it->second > 1) {
        const std::string what = fmt::format("{} requests in all were refused over the request rate", it->second);
        o_.log(fmt::format("{}: {}", describe(c), what));
        audit(c, "rate_limited", "", what);
      }
      refused_run_.erase(it);
    }
    return true;
  }
  const std::string why = fmt::format(
      "too many requests: this server takes {:g} a second from each candidate (in bursts of up to {:g}); try again "
      "in {} s (this request was not run)",
      requests_.per_second(), requests_.burst(), seconds_text(wait));
  if (++refused_run_[name] == 1) {  // the first of a run; its end says how many
    o_.log(fmt::format("{}: refused: {}", describe(c), why));
    audit(c, "rate_limited", method, why);
  }
  if (id)
    reply(protocol::make_error(*id, protocol::error_code::rate_limited, why,
                               json::object{{"retry_after_ms", wait.count()}}));
  return false;
}

void RequestGate::handle(const Caller& c, std::string_view body, const Reply& reply, SteadyTime now) {
  auto parsed = protocol::parse_message(body);
  if (auto* failure = std::get_if<protocol::ParseFailure>(&parsed)) {  // it counts against the rate too
    if (within_rate(c, "", &failure->id, reply, now))
      reply(protocol::make_error(failure->id, failure->code, failure->message));
    return;
  }
  Message& m = std::get<Message>(parsed);
  if (m.kind == Message::Kind::response) return;  // clients do not answer us
  if (!within_rate(c, m.method, m.kind == Message::Kind::request ? &m.id : nullptr, reply, now)) return;
  const bool request = m.kind == Message::Kind::request;
  const Principal& who = *c.who;

  if (m.method == protocol::method::auth_login) {
    if (request)
      reply(protocol::make_error(m.id, protocol::error_code::invalid_request,
                                 "this connection is logged in already, as " + who.name));
    return;
  }
  if (m.method == protocol::method::auth_whoami) {
    if (request) reply(protocol::make_result(m.id, json::value_from(identity(who))));
    return;
  }
  if (m.method == protocol::method::ping) {
    if (request) reply(protocol::make_result(m.id, json::object()));
    return;
  }

  const json::value id = m.id;
  const std::string asked = m.method;
  auto allowed = authorize(who, std::move(m), o_.access);
  if (auto* refused = std::get_if<protocol::RpcError>(&allowed)) {
    o_.log(fmt::format("{}: refused: {}", describe(c), refused->what()));
    audit(c, "refused", asked, refused->what());
    if (request) reply(protocol::make_error(id, refused->code, refused->what()));
    return;
  }
  const Message& call = std::get<Message>(allowed);
  const MethodRule* rule = find_rule(call.method);
  const bool audited = rule && rule->audited;
  const bool counted = rule && rule->submits && who.role == Role::candidate;
  if (counted) {
    if (const auto wait = submissions_.take(who.name, now); wait.count() > 0) {
      const std::string why = fmt::format(
          "too many submissions: this server takes {} a minute from each candidate; submit again in {} s "
          "(nothing was submitted)",
          submissions_.per_minute(), seconds_text(wait));
      o_.log(fmt::format("{}: refused: {}", describe(c), why));
      audit(c, "refused", call.method, why);
      if (request)
        reply(protocol::make_error(id, protocol::error_code::rate_limited, why,
                                   json::object{{"retry_after_ms", wait.count()}}));
      return;
    }
  }
  const std::string detail = audited ? audit_detail(call) : std::string();
  if (!request && audited) audit(c, "call", call.method, detail + "; sent as a notification (no answer)");
  binder_.dispatch(call, [this, c, audited, counted, now, method = call.method, detail, reply](std::string answer) {
    if (audited || counted) {
      std::string outcome = "; ok";
      auto back = protocol::parse_message(answer);
      if (auto* r = std::get_if<Message>(&back); r && r->error) {
        outcome = "; failed: " + r->error->second;
        if (counted) submissions_.give_back(c.who->name, now);  // only what was submitted counts
      }
      if (audited) audit(c, "call", method, detail + outcome);
    }
    reply(std::move(answer));
  });
}

}  // namespace torchexam::daemon
