// The proctored server's tokens (daemon/credentials.hpp) and its access
// table (daemon/access.hpp): every method bound has a row; candidate A is
// refused every call that names candidate B's session or submission; an
// examiner's rows; the token's refusals (malformed, wrong, revoked,
// expired) and that only a hash of it is stored.
#include <doctest/doctest.h>

#include "daemon/access.hpp"
#include "daemon/adapter.hpp"
#include "daemon/credentials.hpp"
#include "exam_fakes.hpp"
#include "protocol/server_messages.hpp"
#include "service_fixture.hpp"

#include "base/hash.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>
#include <set>

using namespace torchexam;
namespace json = boost::json;
namespace fs = std::filesystem;

namespace {

// Two candidates with a session and a submission each, by workspace.
struct TwoCandidates {
  daemon::AccessContext ctx;
  std::map<std::string, std::string> owner{{"sa", "alice"}, {"sb", "bob"}};
  std::map<int64_t, std::string> submissions{{1, "sa"}, {2, "sb"}};
  TwoCandidates() {
    ctx.workspaces = "/srv/ws";
    ctx.mode = "exam";
    ctx.owner_of = [this](const std::string& s) -> std::optional<std::string> {
      if (auto it = owner.find(s); it != owner.end()) return it->second;
      return std::nullopt;
    };
    ctx.current_session = [this](const std::string& name) -> std::optional<std::string> {
      for (const auto& [s, o] : owner)
        if (o == name) return s;
      return std::nullopt;
    };
    ctx.session_of_submission = [this](int64_t id) -> std::optional<std::string> {
      if (auto it = submissions.find(id); it != submissions.end()) return it->second;
      return std::nullopt;
    };
    ctx.environment_dir = [](const std::string& name) -> fs::path {
      if (name == "practice") return "/usr/share/torchexam/environments/practice";
      throw std::runtime_error("no installed environment '" + name + "'");
    };
  }
};

daemon::Principal candidate(const std::string& name, const std::string& env = "") {
  return {daemon::Role::candidate, name, env, "0123456789abcdef"};
}
daemon::Principal examiner() { return {daemon::Role::examiner, "eve", "", "fedcba9876543210"}; }

protocol::Message request(const std::string& method, json::object params) {
  return std::get<protocol::Message>(
      protocol::parse_message(protocol::make_request(1, method, json::value(std::move(params)))));
}

// Params of `method` aimed at bob's session or submission.
json::object aimed_at_bob(daemon::Scope scope) {
  switch (scope) {
    case daemon::Scope::own_submission:
    case daemon::Scope::own_report:
      return {{"submission", 2}};
    case daemon::Scope::own_start:
      return {{"environment", "practice"}, {"workspace", "/srv/ws/bob"}};
    default:
      return {{"session", "sb"}, {"task", "t"}};
  }
}

}  // namespace

TEST_SUITE("access") {
  TEST_CASE("every method the daemon binds has a row in the access table, and every row a method") {
    test::Fixture f;
    daemon::Adapter adapter(
        *f.service, [](std::string, const std::string&) {}, [] {}, {});
    std::set<std::string> rows;
    for (const auto& r : daemon::access_table()) rows.insert(std::string(r.method));
    const auto bound = adapter.binder().method_names();
    for (const auto& m : bound) {
      CAPTURE(m);
      CHECK(rows.count(m) == 1);
    }
    for (const auto& r : rows) {
      CAPTURE(r);
      CHECK(std::find(bound.begin(), bound.end(), r) != bound.end());
    }
    CHECK(rows.size() == daemon::access_table().size());  // no method twice
  }

  TEST_CASE("candidate A is refused every method aimed at candidate B's session or submission") {
    TwoCandidates t;
    int tried = 0;
    for (const auto& rule : daemon::access_table()) {
      CAPTURE(rule.method);
      auto out =
          daemon::authorize(candidate("alice"), request(std::string(rule.method), aimed_at_bob(rule.candidate)), t.ctx);
      if (rule.candidate == daemon::Scope::own_start) {
        // Bob's workspace asked for: alice's start goes to her own.
        REQUIRE(std::holds_alternative<protocol::Message>(out));
        CHECK(json::value_to<protocol::StartParams>(std::get<protocol::Message>(out).params).workspace ==
              "/srv/ws/alice");
        continue;
      }
      ++tried;
      REQUIRE(std::holds_alternative<protocol::RpcError>(out));
      const auto& e = std::get<protocol::RpcError>(out);
      CHECK(e.code == protocol::error_code::forbidden);
      const std::string text = e.what();
      CHECK(text.find("bob") == std::string::npos);  // says nothing of whose it is
    }
    CHECK(tried == static_cast<int>(daemon::access_table().size()) - 1);
    // A submission that does not exist is refused in the same words as bob's.
    auto missing = daemon::authorize(candidate("alice"), request("submission/get", {{"submission", 99}}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::RpcError>(missing));
    CHECK(std::string(std::get<protocol::RpcError>(missing).what()) ==
          "submission 99 is not one of yours; `torchexam history TASK` lists yours");
  }

  TEST_CASE("a candidate's own calls pass, their session filled in and their workspace dropped") {
    TwoCandidates t;
    auto out =
        daemon::authorize(candidate("alice"), request("exam/status", {{"workspace", "/home/alice/exam"}}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::Message>(out));
    const auto& params = std::get<protocol::Message>(out).params.as_object();
    CHECK(params.at("session") == "sa");
    CHECK_FALSE(params.contains("workspace"));
    CHECK(std::holds_alternative<protocol::Message>(
        daemon::authorize(candidate("alice"), request("submission/cancel", {{"submission", 1}}), t.ctx)));
    CHECK(std::holds_alternative<protocol::Message>(
        daemon::authorize(candidate("alice"), request("report/data", {{"submission", 1}}), t.ctx)));
    // No session yet: not_found, with what to run.
    auto none = daemon::authorize(candidate("carol"), request("exam/status", {}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::RpcError>(none));
    CHECK(std::get<protocol::RpcError>(none).code == protocol::error_code::not_found);
  }

  TEST_CASE("a candidate's exam/start: the token's environment, the server's workspace and mode") {
    TwoCandidates t;
    auto out = daemon::authorize(
        candidate("alice", "/srv/envs/final"),
        request("exam/start", {{"environment", "final"}, {"workspace", "/tmp/x"}, {"mode", "practice"}}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::Message>(out));
    const auto p = json::value_to<protocol::StartParams>(std::get<protocol::Message>(out).params);
    CHECK(p.environment == "/srv/envs/final");
    CHECK(p.workspace == "/srv/ws/alice");
    CHECK(p.mode == "exam");
    auto other = daemon::authorize(candidate("alice", "/srv/envs/final"),
                                   request("exam/start", {{"environment", "practice"}, {"workspace", ""}}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::RpcError>(other));
    CHECK(std::string(std::get<protocol::RpcError>(other).what())
              .find("your token is for the exam environment 'final'") == 0);
    auto folder = daemon::authorize(candidate("alice"),
                                    request("exam/start", {{"environment", "/etc"}, {"workspace", ""}}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::RpcError>(folder));
    CHECK(std::get<protocol::RpcError>(folder).code == protocol::error_code::forbidden);
    auto longer = daemon::authorize(
        candidate("alice"),
        request("exam/start", {{"environment", "practice"}, {"workspace", ""}, {"duration_s", 1e6}}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::RpcError>(longer));
    CHECK(std::string(std::get<protocol::RpcError>(longer).what()).find("duration") != std::string::npos);
  }

  TEST_CASE("examiner methods are refused to candidates; an examiner reaches them but not the candidates' controls") {
    TwoCandidates t;
    for (const char* m : {"exam/list", "exam/extend", "rejudge/create", "rejudge/apply", "daemon/info", "env/verify",
                          "daemon/shutdown"}) {
      CAPTURE(m);
      auto out = daemon::authorize(candidate("alice"), request(m, {}), t.ctx);
      REQUIRE(std::holds_alternative<protocol::RpcError>(out));
      CHECK(std::get<protocol::RpcError>(out).code == protocol::error_code::forbidden);
      CHECK(std::string(std::get<protocol::RpcError>(out).what()) ==
            std::string(m) + " is not open to a candidate on this server");
    }
    for (const char* m : {"exam/list", "exam/extend", "exam/stop", "rejudge/create", "submission/get"})
      CHECK(std::holds_alternative<protocol::Message>(daemon::authorize(examiner(), request(m, {}), t.ctx)));
    for (const char* m : {"exam/start", "task/submit", "submission/cancel", "submission/restore", "daemon/shutdown"})
      CHECK(std::holds_alternative<protocol::RpcError>(daemon::authorize(examiner(), request(m, {}), t.ctx)));
    auto unknown = daemon::authorize(examiner(), request("debug/eval", {}), t.ctx);
    REQUIRE(std::holds_alternative<protocol::RpcError>(unknown));
    CHECK(std::string(std::get<protocol::RpcError>(unknown).what()) == "debug/eval is not available over the network");
  }
}

TEST_SUITE("credentials") {
  TEST_CASE("a token logs in; the store keeps only its selector and a hash of its secret") {
    test::StoreFixture s("credentials");
    FakeClock clock;
    const auto issued = daemon::issue_token(*s.db, clock, daemon::Role::candidate, "alice", "/srv/envs/final", {});
    CHECK(issued.token.rfind("txm1." + issued.record.selector + ".", 0) == 0);
    const std::string secret = issued.token.substr(issued.token.rfind('.') + 1);
    CHECK(secret.size() == 64);
    const auto who = daemon::authenticate(*s.db, clock, issued.token);
    CHECK(who.name == "alice");
    CHECK(who.role == daemon::Role::candidate);
    CHECK(who.environment == "/srv/envs/final");
    // Neither the token nor its secret is anywhere in the database files.
    for (const auto& e : fs::directory_iterator(s.root / "state")) {
      if (!e.is_regular_file()) continue;
      std::ifstream in(e.path(), std::ios::binary);
      const std::string bytes((std::istreambuf_iterator<char>(in)), {});
      CAPTURE(e.path());
      CHECK(bytes.find(secret) == std::string::npos);
    }
    CHECK(s.db->credential(issued.record.selector)->secret_sha256 == sha256_hex(secret));
    // Two tokens differ.
    CHECK(daemon::issue_token(*s.db, clock, daemon::Role::candidate, "alice", "", {}).token != issued.token);
  }

  TEST_CASE("a malformed, wrong, revoked or expired token is refused with what to do") {
    test::StoreFixture s("credentials-refused");
    FakeClock clock;
    const auto good = daemon::issue_token(*s.db, clock, daemon::Role::candidate, "alice", "", {});
    CHECK_THROWS_WITH_AS(daemon::authenticate(*s.db, clock, "hunter2"),
                         doctest::Contains("this is not a TorchExam token"), daemon::AuthError);
    std::string wrong = good.token;
    wrong.back() = wrong.back() == '0' ? '1' : '0';
    CHECK_THROWS_WITH_AS(daemon::authenticate(*s.db, clock, wrong),
                         "the token is not valid (unknown, or mistyped); "
                         "ask the examiner for the token torchexamd issued you",
                         daemon::AuthError);
    std::string unknown = good.token;
    unknown[6] = unknown[6] == 'a' ? 'b' : 'a';  // another selector
    CHECK_THROWS_WITH_AS(daemon::authenticate(*s.db, clock, unknown), doctest::Contains("the token is not valid"),
                         daemon::AuthError);

    const auto brief = daemon::issue_token(*s.db, clock, daemon::Role::examiner, "eve", "", 60'000);
    CHECK(daemon::authenticate(*s.db, clock, brief.token).role == daemon::Role::examiner);
    clock.advance(60'000);
    CHECK_THROWS_WITH_AS(daemon::authenticate(*s.db, clock, brief.token),
                         doctest::Contains("the token of eve expired at"), daemon::AuthError);

    CHECK(daemon::revoke_tokens(*s.db, clock, "alice") == 1);
    CHECK(daemon::revoke_tokens(*s.db, clock, "alice") == 0);
    CHECK_THROWS_WITH_AS(daemon::authenticate(*s.db, clock, good.token),
                         doctest::Contains("the token of alice was revoked at"), daemon::AuthError);
  }

  TEST_CASE("a name must make a folder name") {
    test::StoreFixture s("credentials-names");
    FakeClock clock;
    for (const char* bad : {"", "../bob", "a/b", ".hidden", "-rf", "al ice"}) {
      CAPTURE(bad);
      CHECK_THROWS_AS(daemon::issue_token(*s.db, clock, daemon::Role::candidate, bad, "", {}), std::invalid_argument);
    }
    CHECK(daemon::name_problem("ana.maria_2-b").empty());
  }
}
