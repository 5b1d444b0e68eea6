// The runner launch (grading/runner_launch.hpp) against a fake launcher:
// the command it starts, and the verdict it draws from scripted event lines,
// status files and exit codes. No runner runs.
#include "grading/runner_launch.hpp"

#include "fake_launcher.hpp"
#include "idx_writer.hpp"  // temp_dir

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include <signal.h>

#include <algorithm>
#include <fstream>

using namespace torchexam;
using test::FakeLauncher;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

bool is_runner(const ProcessSpec& spec) { return spec.exe.filename() == "torchexam-runner"; }

// What the runner's supervisor writes (sandbox/containment.cpp), as JSON.
json::object exit_status(std::optional<int> code, std::optional<int> signal, bool timed_out = false) {
  json::object exit{{"cpu_s", 1.5}, {"max_rss_kb", 2048}, {"timed_out", timed_out}};
  if (code) exit["code"] = *code;
  if (signal) exit["signal"] = *signal;
  return {{"exit", exit}};
}

struct Fixture {
  fs::path dir = test::temp_dir("runner-launch");
  test::FakeHelpers helpers{dir / "bin"};
  FakeLauncher launcher;
  LocalBackend backend{launcher};
  RunnerJob job;
  std::vector<events::Event> seen;

  Fixture() {
    job.phase = RunnerJob::Phase::train;
    job.spec = dir / "staged" / "task.json";
    job.inputs = dir / "staged" / "train" / "inputs.arr";
    job.targets = dir / "staged" / "train" / "targets.arr";
    job.solution = dir / "libsolution.so";
    job.workdir = dir / "job" / "train";
    job.checkpoint = job.workdir / "checkpoint.pt";
    job.threads = 3;
    job.budget_s = 100;
    job.seed = 7;
  }

  // The runner prints `events` and its supervisor leaves `status` (none when null).
  void runner(std::vector<events::Event> events, std::optional<json::object> status,
              ProcessResult result = FakeLauncher::exited(0)) {
    std::vector<std::string> lines;
    for (const auto& e : events) lines.push_back(events::to_json_line(e));
    launcher.on(is_runner,
                {lines, "runner's stderr\n", result, [status](const ProcessSpec& spec, FakeLauncher::Reply&) {
                   if (status) std::ofstream(test::arg_after(spec.args, "--status-file")) << json::serialize(*status);
                 }});
  }

  RunnerOutcome launch() {
    return launch_runner(
        job, [&](const events::Event& e) { seen.push_back(e); }, backend);
  }
};

}  // namespace

TEST_SUITE("runner_launch") {
  TEST_CASE("ok: the command line, the environment and the limits; events reach the caller") {
    Fixture f;
    f.job.memory_bytes = uint64_t{1} << 30;
    f.runner({events::Sandbox{{"namespaces", "seccomp"}, {"no cgroup: not delegated"}}, events::Log{"epoch 1"},
              events::Result{Verdict::ok, "trained", ""}},
             exit_status(0, std::nullopt));
    const RunnerOutcome out = f.launch();
    CHECK(out.verdict == Verdict::ok);
    CHECK(out.message == "trained");
    CHECK(out.used.cpu_s == 1.5);
    CHECK(out.used.max_rss_kb == 2048);
    CHECK(out.used.peak_memory_bytes == 2048 * 1024);
    CHECK(out.log == std::vector<std::string>{"epoch 1"});
    CHECK(out.sandbox.layers == std::vector<std::string>{"namespaces", "seccomp"});
    CHECK(out.sandbox.notes == std::vector<std::string>{"no cgroup: not delegated"});
    CHECK(f.seen.size() == 3);

    const auto runs = f.launcher.commands(is_runner);
    REQUIRE(runs.size() == 1);
    const ProcessSpec& r = runs[0];
    CHECK(r.args.front() == "train");
    CHECK(test::arg_after(r.args, "--spec") == f.job.spec.string());
    CHECK(test::arg_after(r.args, "--inputs") == f.job.inputs.string());
    CHECK(test::arg_after(r.args, "--targets") == f.job.targets.string());
    CHECK(test::arg_after(r.args, "--solution") == f.job.solution.string());
    CHECK(test::arg_after(r.args, "--checkpoint") == f.job.checkpoint.string());
    CHECK(test::arg_after(r.args, "--threads") == "3");
    CHECK(test::arg_after(r.args, "--seed") == "7");
    CHECK(test::arg_after(r.args, "--memory-bytes") == std::to_string(uint64_t{1} << 30));
    CHECK(test::arg_after(r.args, "--budget") == "100.000");
    // The budget plus its grace (a tenth, 5..30 s); the harness kills 5 s after the runner's own deadline.
    CHECK(test::arg_after(r.args, "--wall-seconds") == "110.000");
    CHECK(r.wall_timeout_s == doctest::Approx(115));
    CHECK(out.sandbox.limits.wall_s == doctest::Approx(110));
    CHECK(out.sandbox.limits.memory_bytes == uint64_t{1} << 30);
    // The status file lies beside the job's folder, where the job cannot reach it.
    CHECK(fs::path(test::arg_after(r.args, "--status-file")) == f.dir / "job" / "train.status.json");
    CHECK(r.env.at("OMP_NUM_THREADS") == "3");
    CHECK(r.stderr_file == f.job.workdir / "runner.stderr");
    CHECK(fs::is_directory(f.job.workdir));
  }

  TEST_CASE("evaluate: a TorchScript model instead of a library and a checkpoint") {
    Fixture f;
    f.job.phase = RunnerJob::Phase::evaluate;
    f.job.torchscript = f.dir / "model.pt";
    f.job.predictions = f.dir / "job" / "evaluate" / "predictions.bin";
    f.runner({events::Result{Verdict::ok, "", ""}}, exit_status(0, std::nullopt));
    CHECK(f.launch().verdict == Verdict::ok);
    const ProcessSpec r = f.launcher.commands(is_runner).at(0);
    CHECK(r.args.front() == "evaluate");
    CHECK(test::arg_after(r.args, "--torchscript") == f.job.torchscript.string());
    CHECK(test::arg_after(r.args, "--predictions") == f.job.predictions.string());
    CHECK(test::arg_after(r.args, "--solution").empty());
    CHECK(test::arg_after(r.args, "--targets").empty());
  }

  TEST_CASE("runtime_error: the solution's exception, and an exit() before any result") {
    Fixture f;
    f.runner({events::Result{Verdict::runtime_error, "std::runtime_error: boom", "at epoch 2"}},
             exit_status(1, std::nullopt));
    RunnerOutcome out = f.launch();
    CHECK(out.verdict == Verdict::runtime_error);
    CHECK(out.message == "std::runtime_error: boom");
    CHECK(out.detail == "at epoch 2");

    f.runner({}, exit_status(3, std::nullopt));
    out = f.launch();
    CHECK(out.verdict == Verdict::runtime_error);
    CHECK(out.message.find("exit code 3 before reporting a result") != std::string::npos);
  }

  TEST_CASE("a claimed success without the supervisor's report of the end is a runtime_error") {
    Fixture f;
    f.runner({events::Result{Verdict::ok, "trained", ""}}, json::object{});
    CHECK(f.launch().verdict == Verdict::runtime_error);
  }

  TEST_CASE("timeout: the harness's deadline, or the reaper's") {
    Fixture f;
    f.runner({events::Log{"epoch 1"}}, std::nullopt, FakeLauncher::timed_out());
    RunnerOutcome out = f.launch();
    CHECK(out.verdict == Verdict::timeout);
    CHECK(out.message.find("budget of 100 s (+10 s grace)") != std::string::npos);

    f.runner({}, exit_status(std::nullopt, SIGKILL, /*timed_out=*/true));
    out = f.launch();
    CHECK(out.verdict == Verdict::timeout);
    CHECK(out.used.cpu_s == 1.5);  // the reaper still reports what the job used
  }

  TEST_CASE("memory_limit: the kernel's memory cgroup, or the scheduler") {
    Fixture f;
    f.job.memory_bytes = uint64_t{2} << 30;
    json::object status = exit_status(std::nullopt, SIGKILL);
    status["cgroup"] = json::object{{"oom_kill", true}, {"memory_peak_bytes", 3ull << 30}};
    f.runner({}, status);
    RunnerOutcome out = f.launch();
    CHECK(out.verdict == Verdict::memory_limit);
    CHECK(out.message.find("memory limit of 2.0 GiB") != std::string::npos);
    CHECK(out.used.peak_memory_bytes == 3ull << 30);

    ProcessResult scheduler = FakeLauncher::killed_by(SIGKILL);
    scheduler.memory_exceeded = true;
    f.runner({}, std::nullopt, scheduler);
    CHECK(f.launch().verdict == Verdict::memory_limit);
  }

  TEST_CASE("killed: a signal the job did not ask for; SIGSYS is forbidden") {
    Fixture f;
    f.runner({}, exit_status(std::nullopt, SIGSEGV));
    RunnerOutcome out = f.launch();
    CHECK(out.verdict == Verdict::killed);
    CHECK(out.message.find("SIGSEGV") != std::string::npos);

    f.runner({}, exit_status(std::nullopt, SIGSYS));
    CHECK(f.launch().verdict == Verdict::forbidden);
  }

  TEST_CASE("internal_error comes only from the harness's side") {
    Fixture f;
    SUBCASE("a result event that claims it is the solution's runtime_error") {
      f.runner({events::Result{Verdict::internal_error, "the harness broke, honest", ""}},
               exit_status(0, std::nullopt));
      const RunnerOutcome out = f.launch();
      CHECK(out.verdict == Verdict::runtime_error);
      CHECK(out.message.find("the harness broke, honest") != std::string::npos);
    }
    SUBCASE("the supervisor's trusted report is the harness's fault") {
      json::object status = exit_status(1, std::nullopt);
      status["harness_fault"] = "cannot map the inputs";
      f.runner({events::Result{Verdict::ok, "trained", ""}}, status);
      const RunnerOutcome out = f.launch();
      CHECK(out.verdict == Verdict::internal_error);
      CHECK(out.message == "the harness failed to set up training: cannot map the inputs");
    }
    SUBCASE("a runner that ends without a word, with its stderr") {
      f.runner({}, std::nullopt, FakeLauncher::exited(2));
      const RunnerOutcome out = f.launch();
      CHECK(out.verdict == Verdict::internal_error);
      CHECK(out.message.find("the runner ended without a result (exit code 2)") != std::string::npos);
      CHECK(out.message.find("runner's stderr") != std::string::npos);
    }
    SUBCASE("a status file that does not read names the file and the field") {
      // The supervisor writes it whole (a rename): one that does not read
      // says nothing about the candidate.
      const std::string file = (f.dir / "job" / "train.status.json").string();
      json::object status = exit_status(0, std::nullopt);
      status["cgroup"] = json::object{{"oom_kill", "yes"}};
      f.runner({events::Result{Verdict::ok, "trained", ""}}, status);
      RunnerOutcome out = f.launch();
      CHECK(out.verdict == Verdict::internal_error);
      CHECK(out.message ==
            "training ended, but the sandbox's status file " + file + ": .cgroup.oom_kill: expected true or false");

      f.runner({events::Result{Verdict::ok, "trained", ""}}, json::object{{"exit", json::object{{"cpu_s", 1}}}});
      out = f.launch();
      CHECK(out.verdict == Verdict::internal_error);
      CHECK(out.message == "training ended, but the sandbox's status file " + file +
                               ": .exit: exactly one of 'code' and 'signal' is required");

      f.launcher.on(is_runner, {{}, "", FakeLauncher::exited(0), [](const ProcessSpec& spec, FakeLauncher::Reply&) {
                                  std::ofstream(test::arg_after(spec.args, "--status-file")) << "{\"exit\":";
                                }});
      out = f.launch();
      CHECK(out.verdict == Verdict::internal_error);
      CHECK(out.message.find("the sandbox's status file " + file + ": not JSON") != std::string::npos);
    }
    SUBCASE("a runner that cannot start throws (the grader's internal_error)") {
      CHECK_THROWS_WITH(f.launch(), doctest::Contains("cannot start"));
    }
  }

  TEST_CASE("a cancelled phase says so, and malformed event lines are logged and skipped") {
    Fixture f;
    ProcessResult cancelled = FakeLauncher::killed_by(SIGKILL);
    cancelled.cancelled = true;
    f.launcher.on(is_runner, {{"not json", events::to_json_line(events::Log{"fine"})}, "", cancelled, {}});
    const RunnerOutcome out = f.launch();
    CHECK(out.cancelled);
    CHECK(out.message == "training was cancelled");
    REQUIRE(out.log.size() == 2);
    CHECK(out.log[0].find("ignored a malformed event line") != std::string::npos);
    CHECK(out.log[1] == "fine");
    CHECK(f.seen.size() == 1);
  }

  TEST_CASE("a resumed phase keeps the status file its job already wrote") {
    Fixture f;
    fs::create_directories(f.dir / "job");
    std::ofstream(f.dir / "job" / "train.status.json") << json::serialize(exit_status(0, std::nullopt));
    f.job.resume = true;
    f.launcher.on(is_runner,
                  {{events::to_json_line(events::Result{Verdict::ok, "", ""})}, "", FakeLauncher::exited(0), {}});
    CHECK(f.launch().verdict == Verdict::ok);
    f.job.resume = false;  // a fresh run removes it first: no report, a claimed ok is not enough
    CHECK(f.launch().verdict == Verdict::internal_error);
  }

  TEST_CASE("a job lost with the launcher's helper runs again, once; one that had ended is judged by its report") {
    Fixture f;
    ProcessResult lost;
    lost.lost = "the warm runner died during the job";
    // First run: the helper dies mid-job (no status report); the re-run
    // ends normally. Its events alone count.
    int runs = 0;
    f.launcher.on(is_runner, {{events::to_json_line(events::Log{"first try"})}, "", lost,
                              [&](const ProcessSpec& spec, FakeLauncher::Reply& reply) {
                                if (++runs == 1) return;
                                reply.stdout_lines = {events::to_json_line(events::Result{Verdict::ok, "", ""})};
                                reply.result = FakeLauncher::exited(0);
                                std::ofstream(test::arg_after(spec.args, "--status-file"))
                                    << json::serialize(exit_status(0, std::nullopt));
                              }});
    RunnerOutcome out = f.launch();
    CHECK(runs == 2);
    CHECK(out.verdict == Verdict::ok);
    CHECK(std::find(out.log.begin(), out.log.end(), "the warm runner died during the job; the phase runs again") !=
          out.log.end());

    // Lost every time: once again only, then an internal_error that says why.
    runs = 0;
    f.launcher.on(is_runner, {{}, "", lost, [&](const ProcessSpec&, FakeLauncher::Reply&) { ++runs; }});
    out = f.launch();
    CHECK(runs == 2);
    CHECK(out.verdict == Verdict::internal_error);
    CHECK(out.message.find("the warm runner died during the job") != std::string::npos);

    // Lost after the supervisor wrote its report: the job had ended and is judged, not run again.
    runs = 0;
    f.launcher.on(is_runner, {{events::to_json_line(events::Result{Verdict::ok, "", ""})}, "", lost,
                              [&](const ProcessSpec& spec, FakeLauncher::Reply&) {
                                ++runs;
                                std::ofstream(test::arg_after(spec.args, "--status-file"))
                                    << json::serialize(exit_status(0, std::nullopt));
                              }});
    out = f.launch();
    CHECK(runs == 1);
    CHECK(out.verdict == Verdict::ok);
  }
}
