// The warm runner (grading/warm_runner.hpp, sandbox/zygote.hpp): a zygote
// killed during a job loses no submission, a zygote whose torchexam-runner
// changed on disk is not used, and the launcher's own contract (output,
// exit code, a fresh process when the zygote cannot serve). The hostile
// suite (test_hostile.cpp) checks that its children get every sandbox layer.
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "base/paths.hpp"
#include "grading/warm_runner.hpp"
#include "hostile_util.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

using namespace torchexam::e2e;
using torchexam::test::wait_for;

namespace {

// Sets an environment variable for one scope (the CLI the tests start inherits it).
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const std::string& value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    ::setenv(name, value.c_str(), 1);
  }
  ~ScopedEnv() {
    if (old_)
      ::setenv(name_, old_->c_str(), 1);
    else
      ::unsetenv(name_);
  }

 private:
  const char* name_;
  std::optional<std::string> old_;
};

// The job held at the start of train() (tests/hostile/attacks.cpp) other than `not_pid`.
std::pair<int, int> held_job(std::future<Graded>& graded, int not_pid = 0) {
  std::vector<std::pair<int, int>> held;
  wait_for(
      [&] {
        held = torchexam::test::kernel::threads_named("texam_held", getpid());
        std::erase_if(held, [&](const auto& h) { return h.first == not_pid; });
        return !held.empty() || graded.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      },
      std::chrono::seconds(240));
  REQUIRE_MESSAGE(held.size() == 1, held.size() << " held jobs");
  return held.front();
}

bool log_has(const json::object& result, const std::string& part) {
  for (const auto& line : result.at("log").as_array())
    if (std::string(line.as_string()).find(part) != std::string::npos) return true;
  return false;
}

// A copy of torchexam-runner the test may change.
fs::path runner_copy(const std::string& name) {
  const fs::path dir = torchexam::test::temp_dir(name);
  fs::copy_file(torchexam::paths::runner(), dir / "torchexam-runner", fs::copy_options::overwrite_existing);
  return dir / "torchexam-runner";
}

void touch_later(const fs::path& file) {
  struct stat st {};
  REQUIRE(::stat(file.c_str(), &st) == 0);
  const timespec times[2] = {st.st_atim, {st.st_mtim.tv_sec + 10, st.st_mtim.tv_nsec}};
  REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
}

}  // namespace

TEST_SUITE("warm_runner") {
  TEST_CASE("warm_runner.zygote_killed: a zygote killed during training loses no submission") {
    const ScopedEnv on("TORCHEXAM_WARM_RUNNER", "on");
    const std::vector<std::string> args{"--limit", "300", "--budget", "20"};
    auto graded = std::async(std::launch::async, [&] { return grade(hostile_solution(), args); });
    const auto [first, first_tid] = held_job(graded);
    const int zygote = zygote_of(first);
    REQUIRE_MESSAGE(zygote != 0, "the training job was not forked from a warm runner");
    REQUIRE(::kill(zygote, SIGKILL) == 0);
    // The job dies with its zygote and the phase runs again: a new job,
    // from a new zygote, which this test lets finish.
    const auto [second, second_tid] = held_job(graded, first);
    CHECK(second != first);
    const int next = zygote_of(second);
    CHECK(next != 0);
    CHECK(next != zygote);
    CHECK(release(second, second_tid, attack_number("control")));
    const Graded g = graded.get();
    INFO(json::serialize(g.result));
    INFO(g.stderr_text);
    CHECK(str(g.result, "verdict") == "ok");
    CHECK(log_has(g.result, "the warm runner died during the job"));
    CHECK(log_has(g.result, "the phase runs again"));
    CHECK(g.stderr_text.find("has ended; starting another") != std::string::npos);
    CHECK(::kill(first, 0) != 0);  // the first job is gone
  }

  TEST_CASE("warm_runner.stale: a zygote whose torchexam-runner changed is not used") {
    const ScopedEnv on("TORCHEXAM_WARM_RUNNER", "on");
    const fs::path runner = runner_copy("warm-runner-stale");
    const ScopedEnv use("TORCHEXAM_RUNNER", runner.string());
    auto graded = std::async(std::launch::async, [&] { return grade(hostile_solution(), {"--limit", "300"}); });
    const auto [held, tid] = held_job(graded);
    const int zygote = zygote_of(held);
    REQUIRE(zygote != 0);
    CHECK(fs::read_symlink("/proc/" + std::to_string(zygote) + "/exe") == runner);
    touch_later(runner);  // as a rebuild would: evaluation must not fork from this zygote
    CHECK(release(held, tid, attack_number("control")));
    const Graded g = graded.get();
    INFO(g.stderr_text);
    CHECK(str(g.result, "verdict") == "ok");
    CHECK(g.stderr_text.find(runner.string() + " changed on disk since the warm runner (pid " + std::to_string(zygote) +
                             ") started; starting another") != std::string::npos);
  }

  TEST_CASE("warm_runner.launcher: output, exit codes, a changed runner and a dead zygote") {
    const fs::path runner = runner_copy("warm-runner-launcher");
    std::mutex mu;
    std::vector<std::string> logged;
    torchexam::WarmRunnerLauncher launcher(torchexam::system_launcher(), {runner, [&](std::string_view l) {
                                                                            std::lock_guard lock(mu);
                                                                            logged.emplace_back(l);
                                                                          }});
    const fs::path dir = runner.parent_path();
    auto run = [&](std::vector<std::string> args) {
      torchexam::ProcessSpec spec;
      spec.exe = runner;
      spec.args = std::move(args);
      spec.env = {{"OMP_NUM_THREADS", "1"}};
      spec.stderr_file = dir / "stderr.txt";
      spec.wall_timeout_s = 60;
      std::string out;
      const auto r = launcher.run(spec, [&](std::string_view line) { out += std::string(line) + "\n"; });
      return std::make_pair(r, out);
    };
    auto was_logged = [&](const std::string& part) {
      std::lock_guard lock(mu);
      for (const auto& l : logged)
        if (l.find(part) != std::string::npos) return true;
      return false;
    };
    const std::map<std::string, std::string> env{{"OMP_NUM_THREADS", "1"}};

    auto [help, help_out] = run({"evaluate", "--help"});
    CHECK(help.exit_code == 0);
    CHECK(help_out.find("predict the hidden test inputs") != std::string::npos);
    const auto first = launcher.zygote_pid(env);
    REQUIRE(first.has_value());
    CHECK(was_logged("started a warm runner (pid " + std::to_string(*first) + ")"));

    // A usage error: the same exit code and output as a fresh runner's.
    auto [bad, bad_out] = run({"evaluate", "--no-such-flag"});
    torchexam::ProcessSpec fresh_spec;
    fresh_spec.exe = runner;
    fresh_spec.args = {"evaluate", "--no-such-flag"};
    fresh_spec.stderr_file = dir / "fresh-stderr.txt";
    std::string fresh_out;
    const auto fresh =
        torchexam::system_launcher().run(fresh_spec, [&](std::string_view l) { fresh_out += std::string(l) + "\n"; });
    CHECK(bad.exit_code.value_or(0) != 0);
    CHECK(bad.exit_code == fresh.exit_code);
    CHECK(bad_out == fresh_out);
    CHECK_FALSE((bad_out + torchexam::read_file(dir / "stderr.txt")).empty());  // the runner said what was wrong
    CHECK(torchexam::read_file(dir / "stderr.txt") == torchexam::read_file(dir / "fresh-stderr.txt"));
    CHECK(launcher.zygote_pid(env) == first);  // the same zygote served both

    touch_later(runner);
    CHECK(run({"train", "--help"}).first.exit_code == 0);
    const auto second = launcher.zygote_pid(env);
    REQUIRE(second.has_value());
    CHECK(*second != *first);
    CHECK(was_logged("changed on disk since the warm runner (pid " + std::to_string(*first) + ")"));

    REQUIRE(::kill(*second, SIGKILL) == 0);
    CHECK(wait_for(
        [&] {
          return torchexam::test::kernel::parent_of(*second) == 0 ||
                 torchexam::test::kernel::status_of(*second)["State"].rfind("Z", 0) == 0;
        },
        std::chrono::seconds(10)));
    CHECK(run({"train", "--help"}).first.exit_code == 0);
    CHECK(was_logged("the warm runner (pid " + std::to_string(*second) + ") has ended; starting another"));
    CHECK(launcher.zygote_pid(env) != second);

    // The deadline and the cancel flag end a forked job as they end a fresh
    // one: its group killed, the result says so, and run() returns.
    {
      torchexam::ProcessSpec spec;
      spec.exe = runner;
      spec.args = {"train", "--help"};
      spec.env = {{"OMP_NUM_THREADS", "1"}};
      spec.stderr_file = dir / "stderr.txt";
      spec.wall_timeout_s = 0;  // already passed when the job starts
      const auto timed_out = launcher.run(spec, [](std::string_view) {});
      CHECK(timed_out.timed_out);
      CHECK_FALSE(timed_out.cancelled);
      const std::atomic<bool> cancel{true};
      spec.wall_timeout_s = 60;
      spec.cancel = &cancel;
      const auto cancelled = launcher.run(spec, [](std::string_view) {});
      CHECK(cancelled.cancelled);
      CHECK_FALSE(cancelled.timed_out);
      CHECK(cancelled.lost.empty());
    }

    // Not the runner: the real launcher runs it, no zygote is involved.
    CHECK_FALSE(launcher.zygote_pid({{"OMP_NUM_THREADS", "2"}}).has_value());
    torchexam::ProcessSpec other;
    other.exe = "/bin/sh";
    other.args = {"-c", "echo $$; echo plain"};
    other.stderr_file = dir / "sh.txt";
    std::string out;
    CHECK(launcher.run(other, [&](std::string_view l) { out += std::string(l) + "\n"; }).exit_code == 0);
    CHECK(out.find("plain") != std::string::npos);
  }

  TEST_CASE("warm_runner.fallback: a runner that cannot be a zygote runs each job fresh, saying why") {
    const fs::path dir = torchexam::test::temp_dir("warm-runner-fallback");
    const fs::path runner = dir / "runner.sh";
    {
      std::ofstream out(runner);
      out << "#!/bin/sh\n[ \"$1\" = zygote ] && { echo 'no zygote here' >&2; exit 3; }\necho \"fresh $1\"\n";
    }
    fs::permissions(runner, fs::perms::owner_all);
    std::vector<std::string> logged;
    torchexam::WarmRunnerLauncher launcher(torchexam::system_launcher(),
                                           {runner, [&](std::string_view l) { logged.emplace_back(l); }});
    torchexam::ProcessSpec spec;
    spec.exe = runner;
    spec.args = {"train"};
    spec.stderr_file = dir / "stderr.txt";
    std::string out;
    CHECK(launcher.run(spec, [&](std::string_view l) { out += std::string(l) + "\n"; }).exit_code == 0);
    CHECK(out == "fresh train\n");
    REQUIRE(logged.size() == 1);
    CHECK(logged[0].find("did not become ready") != std::string::npos);
    CHECK(logged[0].find("no zygote here") != std::string::npos);
    CHECK(logged[0].find("the job runs fresh") != std::string::npos);
  }

  TEST_CASE("warm_runner.orphans: the folder of a launcher killed with -9 is removed by the next one, no other") {
    const fs::path tmp = torchexam::test::temp_dir("warm-runner-orphans");
    const ScopedEnv env("TMPDIR", tmp.string());
    // A pid that has ended: a child, reaped.
    const pid_t child = ::fork();
    if (child == 0) ::_exit(0);
    REQUIRE(child > 0);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    const fs::path orphan = tmp / ("torchexam-zygote-" + std::to_string(child) + "-abc123");
    const fs::path live = tmp / ("torchexam-zygote-" + std::to_string(::getpid()) + "-def456");
    const fs::path other = tmp / "torchexam-zygote-notapid";
    for (const auto& d : {orphan, live, other}) {
      fs::create_directories(d);
      std::ofstream(d / "zygote-1.log") << "log\n";
    }
    std::optional<fs::path> own;
    {
      torchexam::WarmRunnerLauncher launcher(torchexam::system_launcher(), {"/bin/false", [](std::string_view) {}});
      for (const auto& e : fs::directory_iterator(tmp))
        if (e.path() != live && e.path() != other && e.path() != orphan) own = e.path();
      CHECK_FALSE(fs::exists(orphan));
      CHECK(fs::exists(live / "zygote-1.log"));
      CHECK(fs::exists(other / "zygote-1.log"));
      REQUIRE(own.has_value());
      CHECK(own->filename().string().rfind("torchexam-zygote-" + std::to_string(::getpid()) + "-", 0) == 0);
    }
    CHECK_FALSE(fs::exists(*own));  // its own, removed by its destructor
  }
}
