// Slurm behind the proctored server (issue 22; docs/server.md, "Slurm behind
// the server"): torchexamd --listen in exam mode, as for a class, with a
// candidate token whose environment is a copy of the practice exam that
// grades on the Slurm test cluster (the fixture torchexam_slurm). The
// candidate joins and submits with the real torchexam CLI over TLS (the
// test CA, fixture torchexam_server_ca); the server stages and scores, the
// build, train and evaluate phases run as batch jobs on the cluster. Exits
// 77 (skipped) without root (the cluster, and the exam mode's sandbox
// floor, need it), without Slurm and munge, or without the test CA.
#include <doctest/doctest.h>

#include "../server/server_util.hpp"
#include "slurm_util.hpp"

#include <boost/json.hpp>

#include <fstream>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using namespace torchexam::test;

namespace {

const fs::path kCli = TORCHEXAM_CLI;

// A token in a file only its owner may read, as the client requires.
fs::path token_file(const fs::path& file, const std::string& token) {
  std::ofstream(file) << token << "\n";
  fs::permissions(file, fs::perms::owner_read | fs::perms::owner_write, fs::perm_options::replace);
  return file;
}

json::object parse_object(const CliRun& run) {
  INFO("stdout: " << run.out);
  INFO("stderr: " << run.err);
  json::error_code ec;
  json::value v = json::parse(run.out, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return std::move(v.as_object());
}

std::string str(const json::object& o, const char* key) {
  const json::value* v = o.if_contains(key);
  return v && v->is_string() ? std::string(v->as_string()) : std::string();
}

}  // namespace

TEST_SUITE("slurm") {
  TEST_CASE("a submission over TLS is graded through Slurm behind torchexamd --listen") {
    // Root is needed below anyway (the cluster); the server's exam mode
    // refuses to start without the sandbox floor, which root has.
    SlurmEnvironment e("server");
    Server s("slurm", {"--server-mode", "exam", "--idle-timeout", "10"});
    const fs::path home = s.d.root / "ana";
    fs::create_directories(home);
    const fs::path ana = token_file(
        home / "ana.token", s.issue("--add-candidate", "ana", {"--environment", e.env.string(), "--expires-in", "2h"}));
    const fs::path eve = token_file(s.d.root / "eve.token", s.issue("--add-examiner", "eve"));
    const std::string address = "127.0.0.1:" + std::to_string(s.port);
    const std::string ca = (kCa / "torchexam-ca/ca.crt").string();

    // The candidate joins: their session starts on the server, in the
    // environment their token names, and the workspace is laid out here.
    const fs::path ws = home / "exam";
    const CliRun join =
        run_cli(kCli, {"join", address, "--ca-file", ca, "--token-file", ana.string(), ws.string(), "--json"});
    CAPTURE(join.err);
    REQUIRE(join.exit_code == 0);
    const json::object joined = parse_object(join);
    const std::string session = str(joined, "session");
    REQUIRE_FALSE(session.empty());
    REQUIRE(fs::exists(ws / "regression/solution.cpp"));

    // They write their solution (the task's reference) and submit it from
    // the workspace: the CLI uploads it over TLS and follows the grading.
    fs::copy_file(kSource / "environments/practice/regression/reference.cpp", ws / "regression/solution.cpp",
                  fs::copy_options::overwrite_existing);
    const CliRun submit = run_cli(kCli, {"submit", "regression", "--wait", "--json"}, {}, 1200, ws);
    CAPTURE(submit.err);
    CHECK(submit.exit_code == 0);
    const json::object sub = parse_object(submit);
    CAPTURE(json::serialize(sub));
    CHECK(str(sub, "session") == session);
    CHECK(str(sub, "state") == "finished");
    CHECK(str(sub, "verdict") == "ok");
    CHECK(sub.at("score").to_number<int64_t>() == 5);
    REQUIRE(sub.at("result").is_object());
    const json::object& result = sub.at("result").as_object();
    CHECK(str(result, "verdict") == "ok");
    CHECK(result.at("score").to_number<int64_t>() == 5);

    // Graded on the cluster: the result says so, its job folder is in the
    // environment's shared folder, and train and evaluate were batch jobs
    // that Slurm ran to completion, once each.
    CHECK(str(result, "backend") == "slurm");
    const fs::path job_dir = str(result, "job_dir");
    CHECK(job_dir.string().rfind((e.shared / "jobs").string(), 0) == 0);
    const auto log = completion_log();
    for (const char* phase : {"train", "evaluate"}) {
      CAPTURE(phase);
      const json::value ledger = ledger_of(job_dir, phase);
      REQUIRE(ledger.is_object());
      CHECK(ledger.at("state") == "done");
      CHECK(ledger.at("job_id").to_number<int64_t>() > 0);
      CHECK(ledger.at("submissions").to_number<int64_t>() == 1);
      const auto it = log.find(std::string(ledger.at("name").as_string()));
      REQUIRE(it != log.end());
      CHECK(it->second == std::vector<std::string>{"COMPLETED"});
    }
    // What the nodes were given of the hidden test data: its inputs only,
    // never its targets (the server scores).
    int staged = 0;
    for (const auto& dir : fs::directory_iterator(e.shared / "cache/staged")) {
      if (!fs::is_directory(dir.path() / "evaluate")) continue;
      ++staged;
      for (const auto& f : fs::directory_iterator(dir.path() / "evaluate")) {
        CAPTURE(f.path());
        CHECK(f.path().filename() == "inputs.arr");
      }
    }
    CHECK(staged > 0);
    // The server kept the candidate's source in their folder there.
    CHECK(slurp(s.d.state / "candidates/ana/regression/solution.cpp") ==
          slurp(kSource / "environments/practice/regression/reference.cpp"));

    // The examiner's `sessions` over TLS lists the session: exam mode, the
    // candidate's server workspace, the score.
    const CliRun sessions =
        run_cli(kCli, {"--server", address, "--ca-file", ca, "--token-file", eve.string(), "sessions", "--json"});
    CAPTURE(sessions.err);
    REQUIRE(sessions.exit_code == 0);
    const json::object list = parse_object(sessions);
    CAPTURE(json::serialize(list));
    const json::object* found = nullptr;
    for (const auto& st : list.at("sessions").as_array())
      if (str(st.as_object(), "session") == session) found = &st.as_object();
    REQUIRE(found);
    CHECK(str(*found, "mode") == "exam");
    CHECK(str(*found, "state") == "running");
    CHECK(fs::path(str(*found, "workspace")) == s.d.state / "candidates/ana");
    CHECK(fs::path(str(*found, "environment")) == e.env);
    CHECK(found->at("total_score").to_number<int64_t>() == 5);
  }
}
