// The real process launcher (base/process.hpp) on small system programs:
// output lines, exit codes and signals, the deadline killing the whole
// group, cancel, environment and folder, a program that cannot start, the
// detached start and a child that runs beside the test.
#include "base/process.hpp"

#include "../test_util.hpp"
#include "idx_writer.hpp"  // temp_dir

#include <doctest/doctest.h>

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

using namespace torchexam;
namespace fs = std::filesystem;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct Shell {
  fs::path dir = test::temp_dir("process");
  std::vector<std::string> lines;

  ProcessSpec sh(const std::string& script, double timeout_s = 20) const {
    ProcessSpec spec;
    spec.exe = "/bin/sh";
    spec.args = {"-c", script};
    spec.stderr_file = dir / "stderr";
    spec.wall_timeout_s = timeout_s;
    return spec;
  }
  ProcessResult run(const ProcessSpec& spec) {
    return system_launcher().run(spec, [&](std::string_view l) { lines.emplace_back(l); });
  }
};

// Running, not a zombie waiting for whoever it was reparented to.
bool alive(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, comm, state;
  return stat >> pid_field >> comm >> state && state != "Z";
}

}  // namespace

TEST_SUITE("process") {
  TEST_CASE("stdout comes line by line, stderr goes to its file, the exit code is reported") {
    Shell s;
    const auto r = s.run(s.sh("echo one; echo two >&2; printf 'three\\nno newline'; exit 3"));
    CHECK(r.exit_code == 3);
    CHECK_FALSE(r.signal);
    CHECK_FALSE(r.timed_out);
    CHECK(s.lines == std::vector<std::string>{"one", "three", "no newline"});
    CHECK(slurp(s.dir / "stderr") == "two\n");
  }

  TEST_CASE("a signal that ends the child is reported as such") {
    Shell s;
    const auto r = s.run(s.sh("kill -TERM $$"));
    CHECK_FALSE(r.exit_code);
    CHECK(r.signal == SIGTERM);
  }

  TEST_CASE("the deadline kills the whole group, grandchildren too, and run() returns at once") {
    Shell s;
    // The grandchild holds stdout open and would outlive the shell.
    const auto start = std::chrono::steady_clock::now();
    const auto r = s.run(s.sh("sleep 30 & echo $!; wait", 0.5));
    const double took = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    CHECK(r.timed_out);
    CHECK(r.signal == SIGKILL);
    CHECK(took < 5);
    REQUIRE(s.lines.size() == 1);
    const pid_t grandchild = std::stoi(s.lines[0]);
    CHECK(test::wait_for([&] { return !alive(grandchild); }, std::chrono::seconds(5)));
  }

  TEST_CASE("a grandchild left behind after a normal exit is killed with the group") {
    Shell s;
    const auto r = s.run(s.sh("sleep 30 & echo $!; exit 0"));
    CHECK(r.exit_code == 0);
    CHECK_FALSE(r.timed_out);
    REQUIRE(s.lines.size() == 1);
    const pid_t grandchild = std::stoi(s.lines[0]);
    CHECK(test::wait_for([&] { return !alive(grandchild); }, std::chrono::seconds(5)));
  }

  TEST_CASE("cancel kills the group and says cancelled") {
    Shell s;
    std::atomic<bool> cancel{false};
    ProcessSpec spec = s.sh("echo started; sleep 30");
    spec.cancel = &cancel;
    const auto r = system_launcher().run(spec, [&](std::string_view) { cancel = true; });
    CHECK(r.cancelled);
    CHECK_FALSE(r.timed_out);
    CHECK(r.signal == SIGKILL);
  }

  TEST_CASE("the environment is ours with the spec's on top; the folder is the spec's") {
    Shell s;
    ProcessSpec spec = s.sh("echo \"$TORCHEXAM_TEST_VAR\"; echo \"$HOME\"; pwd");
    spec.env = {{"TORCHEXAM_TEST_VAR", "set by the spec"}};
    spec.cwd = s.dir;
    const auto r = s.run(spec);
    CHECK(r.exit_code == 0);
    REQUIRE(s.lines.size() == 3);
    CHECK(s.lines[0] == "set by the spec");
    CHECK(s.lines[1] == (std::getenv("HOME") ? std::getenv("HOME") : ""));
    CHECK(fs::equivalent(s.lines[2], s.dir));
  }

  TEST_CASE("the child starts in a group of its own with stdin empty") {
    Shell s;
    const auto r = s.run(s.sh("cut -d' ' -f5 /proc/$$/stat; echo $$; cat; echo end"));
    CHECK(r.exit_code == 0);
    REQUIRE(s.lines.size() == 3);
    CHECK(s.lines[0] == s.lines[1]);  // the shell leads its group
    CHECK(s.lines[2] == "end");       // cat read an empty stdin
  }

  TEST_CASE("a program that cannot start throws with its path and the reason") {
    Shell s;
    ProcessSpec spec = s.sh("true");
    spec.exe = s.dir / "no-such-program";
    CHECK_THROWS_WITH(s.run(spec), doctest::Contains(("cannot start " + spec.exe.string() + ": No such file").c_str()));
    spec = s.sh("true");
    spec.cwd = s.dir / "no-such-folder";
    CHECK_THROWS_WITH(s.run(spec), doctest::Contains("No such file"));
  }

  TEST_CASE("find_executable: the PATH for a bare name, the path itself otherwise") {
    CHECK(system_launcher().find_executable("sh").filename() == "sh");
    CHECK(system_launcher().find_executable("torchexam-no-such-tool").empty());
    CHECK(system_launcher().find_executable("/bin/sh") == "/bin/sh");
    CHECK(system_launcher().find_executable("/no/such/sh").empty());
  }

  TEST_CASE("start_detached: the program's own pid, in a session of its own, its output appended to the log") {
    const fs::path dir = test::temp_dir("process-detached");
    const fs::path log = dir / "logs" / "out.log";
    const fs::path marker = dir / "marker";
    const pid_t pid = system_launcher().start_detached(
        {"/bin/sh",
         {"-c", "echo \"$$ $(cut -d' ' -f6 /proc/$$/stat)\"; touch " + marker.string() + "; exec sleep 30"},
         log});
    REQUIRE(pid > 0);
    CHECK(test::wait_for([&] { return fs::exists(marker); }, std::chrono::seconds(10)));
    // A session of its own (not ours), which it does not lead: it can never
    // take a controlling terminal.
    const pid_t sid = ::getsid(pid);
    CHECK(sid != ::getsid(0));
    CHECK(sid != pid);
    CHECK(slurp(log) == std::to_string(pid) + " " + std::to_string(sid) + "\n");
    ::kill(pid, SIGKILL);
    CHECK(test::wait_for([&] { return !alive(pid); }, std::chrono::seconds(5)));  // not our zombie: reaped by init
  }

  TEST_CASE("start_detached of a missing program throws") {
    const fs::path dir = test::temp_dir("process-detached-missing");
    CHECK_THROWS_WITH(system_launcher().start_detached({dir / "nothing", {}, dir / "log"}),
                      doctest::Contains("cannot start"));
  }

  TEST_CASE("ChildProcess: runs beside the caller until it ends or is killed") {
    const fs::path dir = test::temp_dir("process-child");
    {
      ChildProcess c("/bin/sh", {"-c", "echo hello; exit 7"}, dir / "log");
      CHECK(c.wait() == 7);
      CHECK(c.exited() == 7);
      CHECK(slurp(dir / "log") == "hello\n");
    }
    {
      ChildProcess c("/bin/sleep", {"30"}, dir / "log");
      CHECK_FALSE(c.exited());
      c.kill(SIGTERM);
      CHECK(c.wait() == 128 + SIGTERM);
    }
    pid_t left;
    {
      ChildProcess c("/bin/sleep", {"30"}, dir / "log");
      left = c.pid();
    }  // the destructor kills and reaps it
    CHECK_FALSE(alive(left));
    CHECK_THROWS_WITH(ChildProcess(dir / "nothing", {}, dir / "log"), doctest::Contains("cannot start"));
  }
}
