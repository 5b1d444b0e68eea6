// fuzz_server — libFuzzer target for the proctored server's request path
// after the login (daemon/request_gate.hpp): the bytes a logged-in
// candidate sends over TLS, through LSP framing (protocol::FrameReader with
// the server's frame limit scaled down), JSON-RPC parsing, the request
// rate, the access table (daemon/access.hpp) and the submission rate, into
// a Binder where every method of the protocol is bound by its signature.
// TLS itself is OpenSSL's and not fuzzed here; the transport-free gate is
// exactly what TlsServer runs on each body.
//
// The caller is candidate "ana" (session s-ana, submissions with even ids;
// "ben" owns s-ben and the odd ids), with or without a pinned environment
// (a bit of the input's hash says which). The fake clock moves 7 ms per body,
// so the rate limits refuse and refill within one input.
//
// What counts as a bug (the fuzzer stops with a crash):
//  - any exception escaping RequestGate::handle;
//  - a request answered other than exactly once, a notification answered,
//    an answer that is not a JSON-RPC response carrying the request's id;
//  - a call reaching the Binder that the access table should have refused
//    or rewritten: a method a candidate may not call; a session other than
//    s-ana, or a `workspace` left in; a submission not ana's; an exam/start
//    with another workspace, mode or environment than the server's;
//  - an audit record that is not ana's;
//  - sanitizer findings (ASan, UBSan) in any of it.
//
// Fixed when the gate was taken out of TlsServer, and in the seeds since
// (corpus_server/upload): a task/upload whose params do not read (e.g.
// "task": 5) threw out of the server's request handler while it wrote the
// audit line (read_params in the audit detail), which ended torchexamd; the
// gate now audits such a call with the error and lets the Binder answer
// invalid_params. Short runs since have found nothing.
//
// Build: tests/fuzz/CMakeLists.txt (fuzz_server, Clang) or run_short.sh
// server. Seeds: tests/fuzz/corpus_server/.
#include "daemon/access.hpp"
#include "daemon/request_gate.hpp"
#include "protocol/framing.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace {

using namespace torchexam;
using namespace torchexam::protocol;
using daemon::Scope;

[[noreturn]] void bug(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz_server: BUG: %s%s%.*s\n", what, detail.empty() ? "" : ": ",
               static_cast<int>(std::min<size_t>(detail.size(), 400)), detail.data());
  std::abort();
}

constexpr const char* kPinned = "/envs/practice";

bool is_ana_submission(const json::value& v) {
  if (!v.is_int64() && !v.is_uint64()) return false;
  const int64_t id = v.to_number<int64_t>();
  return id >= 1 && id <= 1000 && id % 2 == 0;
}

bool pinned_start = false;  // this input's ana has a pinned environment

// What the access table must have made of a call the Binder now gets.
void check_scoped(const char* method, const json::value& params) {
  const daemon::MethodRule* rule = daemon::find_rule(method);
  if (!rule) bug("a method without a row in the access table reached the Binder", method);
  const json::object* o = params.if_object();
  auto session_is_anas = [&] {
    const json::value* s = o ? o->if_contains("session") : nullptr;
    if (!s || !s->is_string() || s->get_string() != "s-ana")
      bug("a call reached the Binder with a session not ana's", method);
    if (o->contains("workspace")) bug("a candidate's workspace param reached the Binder", method);
  };
  switch (rule->candidate) {
    case Scope::deny:
      bug("a method closed to candidates reached the Binder", method);
    case Scope::any:
      return;
    case Scope::own_session:
      return session_is_anas();
    case Scope::own_submission:
      if (!o || !o->contains("submission") || !is_ana_submission(o->at("submission")))
        bug("a call on a submission not ana's reached the Binder", json::serialize(params));
      return;
    case Scope::own_report:
      if (o && o->contains("submission") && is_ana_submission(o->at("submission"))) return;
      return session_is_anas();
    case Scope::own_start: {
      const auto p = read_params<StartParams>(params);  // the table wrote it: it must read
      if (p.workspace != "/ws/ana" || p.mode != "exam" || p.duration_s || p.overwrite)
        bug("exam/start reached the Binder with the candidate's own workspace, mode, duration or overwrite",
            json::serialize(params));
      if (p.environment != (pinned_start ? kPinned : "/envs/tiny"))
        bug("exam/start reached the Binder with an environment the token does not allow", p.environment);
      return;
    }
  }
}

template <class P, class R>
void bind(Binder& b, const Call<P, R>& call) {
  b.method(call.name, [name = call.name](const json::value& params, Binder::Reply reply) {
    check_scoped(name, params);
    (void)read_params<P>(params);  // as the daemon's typed binding reads it
    reply(json::value_from(R{}));
  });
}

const Binder& binder() {
  static const Binder b = [] {
    Binder x;
    bind(x, rpc::exam_start);
    bind(x, rpc::exam_status);
    bind(x, rpc::exam_stop);
    bind(x, rpc::exam_pause);
    bind(x, rpc::exam_resume);
    bind(x, rpc::task_list);
    bind(x, rpc::task_submit);
    bind(x, rpc::submission_list);
    bind(x, rpc::submission_get);
    bind(x, rpc::submission_cancel);
    bind(x, rpc::submission_restore);
    bind(x, rpc::env_verify);
    bind(x, rpc::daemon_info);
    bind(x, rpc::daemon_shutdown);
    bind(x, rpc::report_data);
    bind(x, rpc::rejudge_create);
    bind(x, rpc::rejudge_get);
    bind(x, rpc::rejudge_apply);
    bind(x, rpc::rejudge_cancel);
    bind(x, rpc::task_upload);
    bind(x, rpc::exam_list);
    bind(x, rpc::exam_extend);
    return x;
  }();
  return b;
}

daemon::GateOptions options() {
  daemon::GateOptions o;
  o.access.workspaces = "/ws";
  o.access.mode = "exam";
  o.access.owner_of = [](const std::string& s) -> std::optional<std::string> {
    if (s == "s-ana") return "ana";
    if (s == "s-ben") return "ben";
    return std::nullopt;
  };
  o.access.current_session = [](const std::string& name) -> std::optional<std::string> {
    if (name == "ana") return "s-ana";
    return std::nullopt;
  };
  o.access.session_of_submission = [](int64_t id) -> std::optional<std::string> {
    if (id < 1 || id > 1000) return std::nullopt;
    return id % 2 == 0 ? "s-ana" : "s-ben";
  };
  o.access.environment_dir = [](const std::string& name) -> std::filesystem::path {
    if (name == "tiny") return "/envs/tiny";
    throw std::runtime_error("no installed environment named " + name);
  };
  o.log = [](const std::string&) {};
  o.audit = [](store::AuditRecord r) {
    if (r.who != "candidate ana") bug("an audit record of someone else than the caller", r.who);
  };
  o.submissions_per_minute = 3;
  o.requests_per_second = 20;
  o.request_burst = 8;
  o.keepalive_s = 60;
  return o;
}

// The gate's replies to one body, checked against what the body was.
void one_body(daemon::RequestGate& gate, const daemon::Caller& ana, const std::string& body, daemon::SteadyTime now) {
  int replies = 0;
  std::string last;
  gate.handle(
      ana, body,
      [&](std::string reply) {
        ++replies;
        last = std::move(reply);
      },
      now);
  const auto parsed = parse_message(body);
  int expected = 1;
  json::value id;
  if (const auto* m = std::get_if<Message>(&parsed)) {
    expected = m->kind == Message::Kind::request ? 1 : 0;
    id = m->id;
  } else {
    id = std::get<ParseFailure>(parsed).id;
  }
  if (replies != expected)
    bug(replies > expected ? "a body answered more than expected" : "a request not answered", body);
  if (replies == 0) return;
  const auto answer = parse_message(last);
  const auto* r = std::get_if<Message>(&answer);
  if (!r || r->kind != Message::Kind::response) bug("an answer that is not a JSON-RPC response", last);
  if (r->id != id) bug("an answer with another id than its request's", last);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Split points as fuzz_protocol's (frames whole and split anywhere), and
  // whether ana's token pins an environment, from an FNV-1a hash of the input.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : input) h = (h ^ c) * 1099511628211ull;
  pinned_start = (h >> 63) != 0;
  daemon::Caller ana{daemon::Principal{daemon::Role::candidate, "ana", pinned_start ? kPinned : "", "0123456789abcdef"},
                     "127.0.0.1:40000"};
  daemon::RequestGate gate(options(), binder());

  std::array<size_t, 5> cuts{0, 0, 0, 0, size};
  const size_t pieces = h % 4;
  for (size_t i = 0; i < 3; ++i) cuts[1 + i] = i < pieces ? static_cast<size_t>((h >> (16 + 13 * i)) % (size + 1)) : 0;
  std::sort(cuts.begin(), cuts.end());

  auto now = daemon::SteadyTime{} + std::chrono::hours(1);
  try {
    FrameReader reader(64 << 10);  // the server's 8 MiB, scaled to what a fuzzer input holds
    for (size_t i = 0; i + 1 < cuts.size(); ++i) {
      reader.feed(input.substr(cuts[i], cuts[i + 1] - cuts[i]));
      while (auto next = reader.next()) {
        auto* frame = std::get_if<Frame>(&*next);
        if (!frame) continue;  // the server answers a framing error itself; fuzz_protocol covers the reader
        now += std::chrono::milliseconds(7);
        one_body(gate, ana, frame->body, now);
      }
    }
  } catch (const std::exception& e) {
    bug("an exception escaped the request path", e.what());
  }
  return 0;
}
