// Verdict precedence: what the harness concludes when several things went
// wrong at once, and which evidence it trusts.
#include "grading/runner_launch.hpp"
#include "idx_writer.hpp"  // ScopedEnv
#include "sandbox/identity.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <algorithm>

using namespace torchexam;

namespace {
events::Exit killed_by(int sig, double cpu = 1) {
  events::Exit e;
  e.signal = sig;
  e.cpu_s = cpu;
  return e;
}
events::Exit exited(int code) {
  events::Exit e;
  e.code = code;
  return e;
}
Verdict verdict_of(const PhaseEvidence& e) {
  auto d = decide_verdict(e, "training");
  REQUIRE(d.has_value());
  return d->verdict;
}
}  // namespace

TEST_SUITE("verdicts") {
  TEST_CASE("the order is timeout > memory_limit > forbidden > cpu_limit > output_limit > killed > runtime_error > ok") {
    const Verdict order[] = {Verdict::timeout,      Verdict::memory_limit, Verdict::forbidden, Verdict::cpu_limit,
                             Verdict::output_limit, Verdict::killed,       Verdict::runtime_error, Verdict::ok};
    for (size_t i = 0; i + 1 < std::size(order); ++i) CHECK(precedence(order[i]) > precedence(order[i + 1]));
    CHECK(precedence(Verdict::contract) == precedence(Verdict::runtime_error));
    CHECK(precedence(Verdict::internal_error) < precedence(Verdict::runtime_error));
    CHECK(precedence(Verdict::internal_error) > precedence(Verdict::ok));
    CHECK(to_string(Verdict::cpu_limit) == "cpu_limit");
    CHECK(parse_verdict("output_limit") == Verdict::output_limit);
  }

  TEST_CASE("signals map to verdicts") {
    PhaseEvidence e;
    e.cpu_limit_s = 100;
    e.exit = killed_by(SIGSYS);
    CHECK(verdict_of(e) == Verdict::forbidden);
    e.exit = killed_by(SIGXCPU);
    CHECK(verdict_of(e) == Verdict::cpu_limit);
    e.exit = killed_by(SIGKILL, 101);  // the hard CPU limit
    CHECK(verdict_of(e) == Verdict::cpu_limit);
    e.exit = killed_by(SIGXFSZ);
    CHECK(verdict_of(e) == Verdict::output_limit);
    e.exit = killed_by(SIGSEGV);
    CHECK(verdict_of(e) == Verdict::killed);
    e.exit = exited(3);
    CHECK(verdict_of(e) == Verdict::runtime_error);
  }

  TEST_CASE("a claimed result never hides what the kernel saw") {
    PhaseEvidence e;
    e.result = events::Result{Verdict::ok, "trained", ""};  // candidate code can print this
    e.exit = killed_by(SIGSYS);
    CHECK(verdict_of(e) == Verdict::forbidden);
    e.exit = killed_by(SIGKILL);
    e.oom_kill = true;
    CHECK(verdict_of(e) == Verdict::memory_limit);
    e.timed_out = true;
    CHECK(verdict_of(e) == Verdict::timeout);
  }

  TEST_CASE("an honest result stands, and the runner's own errors are not the candidate's") {
    PhaseEvidence e;
    e.result = events::Result{Verdict::ok, "trained", ""};
    e.exit = exited(0);
    auto d = decide_verdict(e, "training");
    REQUIRE(d);
    CHECK(d->verdict == Verdict::ok);
    e.result = events::Result{Verdict::contract, "wrong shape", "expected [N, 10]"};
    d = decide_verdict(e, "training");
    CHECK(d->verdict == Verdict::contract);
    CHECK(d->detail == "expected [N, 10]");
    e.result = events::Result{Verdict::internal_error, "plugin failed", ""};
    e.exit = killed_by(SIGSEGV);
    CHECK(verdict_of(e) == Verdict::killed);
    CHECK_FALSE(decide_verdict(PhaseEvidence{}, "training").has_value());
  }

  // The job's process runs the candidate's code: a result it writes that
  // claims a harness fault is the solution's failure, whatever follows it.
  TEST_CASE("a job cannot make the harness declare its own fault") {
    PhaseEvidence e;
    e.result = events::Result{Verdict::internal_error, "the harness ran out of disk space (not your fault)", ""};
    e.exit = exited(0);
    auto d = decide_verdict(e, "training");
    REQUIRE(d);
    CHECK(d->verdict == Verdict::runtime_error);
    CHECK(d->message.find("only the harness's trusted side") != std::string::npos);
    CHECK(d->message.find("ran out of disk space") != std::string::npos);  // the claim is kept, as the solution's
  }

  TEST_CASE("a harness fault from the trusted channel is internal_error, whatever the job claims") {
    PhaseEvidence e;
    e.harness_fault = "staged array of unknown dtype 9";
    e.result = events::Result{Verdict::ok, "trained", ""};
    e.exit = exited(1);
    auto d = decide_verdict(e, "training");
    REQUIRE(d);
    CHECK(d->verdict == Verdict::internal_error);
    CHECK(d->message.find("unknown dtype 9") != std::string::npos);
  }

  TEST_CASE("a claimed success with a failing exit code is a runtime error") {
    PhaseEvidence e;
    e.result = events::Result{Verdict::ok, "trained", ""};
    e.exit = exited(3);
    auto d = decide_verdict(e, "training");
    REQUIRE(d);
    CHECK(d->verdict == Verdict::runtime_error);
    CHECK(d->message.find("exit code 3") != std::string::npos);
    e.exit.reset();  // the status file, but no report from the reaper
    CHECK(verdict_of(e) == Verdict::runtime_error);
  }

  TEST_CASE("the reaper's deadline is a timeout, even when the job claimed success") {
    PhaseEvidence e;
    e.result = events::Result{Verdict::ok, "trained", ""};
    e.exit = killed_by(SIGKILL, 12);
    e.exit->timed_out = true;
    CHECK(verdict_of(e) == Verdict::timeout);
  }

  // Without the supervisor's report no candidate code can have run, unless
  // something killed the runner: that is never the harness's fault.
  TEST_CASE("a runner that ended without its supervisor's report") {
    PhaseEvidence e;
    e.contained = false;
    e.result = events::Result{Verdict::internal_error, "sandbox step 'fds' failed", ""};
    e.runner_exit = exited(1);
    auto d = decide_verdict(e, "training");
    REQUIRE(d);
    CHECK(d->verdict == Verdict::internal_error);
    CHECK(d->message == "sandbox step 'fds' failed");

    e.runner_exit = killed_by(SIGKILL);
    CHECK(verdict_of(e) == Verdict::killed);

    e.runner_exit = exited(0);  // the supervisor ran but wrote no report
    CHECK(verdict_of(e) == Verdict::internal_error);

    e.exit = exited(0);  // an `exit` event on the stream is only a claim when there is no report
    e.runner_exit = killed_by(SIGKILL);
    CHECK(verdict_of(e) == Verdict::killed);
  }
}

TEST_SUITE("verdicts") {
  // The runner starts with runner_environment() and then clears its
  // environment to the sandbox's allow-list: a variable set in one and
  // missing from the other would be dropped without a word.
  TEST_CASE("the runner's environment survives the sandbox's clean-up") {
    const auto env = runner_environment(2);
    const auto& keep = sandbox::environment_allow_list();
    for (const auto& [name, value] : env) {
      CAPTURE(name);
      CHECK(std::find_if(keep.begin(), keep.end(), [&](const char* k) { return name == k; }) != keep.end());
    }
    CHECK(env.at("OMP_NUM_THREADS") == "2");
  }

  // libgomp's default spin (300000) made a 2-thread training 4x slower
  // beside one busy process; the runner gets a short one unless the user
  // chose a wait policy of their own, which then passes unchanged.
  TEST_CASE("the runner spins 10000 times at an OpenMP barrier unless told otherwise") {
    {
      const test::ScopedEnv spin("GOMP_SPINCOUNT", nullptr), policy("OMP_WAIT_POLICY", nullptr);
      CHECK(runner_environment(2).at("GOMP_SPINCOUNT") == "10000");
    }
    {
      const test::ScopedEnv spin("GOMP_SPINCOUNT", "300000"), policy("OMP_WAIT_POLICY", nullptr);
      CHECK(runner_environment(2).count("GOMP_SPINCOUNT") == 0);
    }
    {
      const test::ScopedEnv spin("GOMP_SPINCOUNT", nullptr), policy("OMP_WAIT_POLICY", "PASSIVE");
      CHECK(runner_environment(2).count("GOMP_SPINCOUNT") == 0);
    }
  }
}
