// The `torchexam` client against the daemon it starts itself, on a private
// socket and state folder (test_cli_exam.cpp, test_regrade.cpp): Exam runs
// commands and kills that daemon by pid at the end, whatever happens.
#pragma once

#include "daemon_util.hpp"
#include "run_cli.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

namespace torchexam::test {

inline const fs::path kSource = TORCHEXAM_SOURCE_DIR;
inline const fs::path kCli = TORCHEXAM_CLI;
inline const fs::path kTinyEnv = kSource / "tests/environments/tiny";

// Alive and not a zombie.
inline bool alive(pid_t pid) {
  if (pid <= 0 || (::kill(pid, 0) != 0 && errno == ESRCH)) return false;
  const std::string stat = slurp("/proc/" + std::to_string(pid) + "/stat");
  const size_t close = stat.rfind(')');
  return close != std::string::npos && close + 2 < stat.size() && stat[close + 2] != 'Z';
}

// The daemon that held `lock` has let go of its files. Its main thread is a
// zombie before its other threads have exited, and its listening socket
// lives until the last one has: a client that connects in between is reset
// when it goes. The lock goes with the socket, so taking it tells.
inline bool released(const fs::path& lock) {
  const int fd = ::open(lock.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return true;
  const bool free = ::flock(fd, LOCK_EX | LOCK_NB) == 0;
  ::close(fd);  // drops the lock again
  return free;
}

// A private socket and state folder for the client and the daemon it
// starts; the daemon (whose pid its lock file holds) is killed at the end.
struct Exam {
  fs::path root = fs::temp_directory_path() / ("torchexam-cli-exam-" + std::to_string(::getpid()));
  fs::path ws = root / "ws";
  std::map<std::string, std::string> env;

  Exam() {
    fs::remove_all(root);
    fs::create_directories(root / "run");
    fs::permissions(root / "run", fs::perms::owner_all, fs::perm_options::replace);
    env = {{"TORCHEXAM_SOCKET", (root / "run/daemon.sock").string()},
           {"TORCHEXAM_STATE_DIR", (root / "state").string()}};
  }
  ~Exam() {
    const pid_t pid = daemon_pid();
    if (alive(pid)) ::kill(pid, SIGKILL);
    wait_for([&] { return released(root / "state/daemon.lock"); }, std::chrono::seconds(10));
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  pid_t daemon_pid() const { return static_cast<pid_t>(std::atoi(slurp(root / "state/daemon.lock").c_str())); }

  CliRun run(std::vector<std::string> args, const fs::path& cwd = {}, double timeout_s = 120) const {
    CliRun r = run_cli(kCli, std::move(args), env, timeout_s, cwd.empty() ? ws : cwd);
    INFO("stdout: " << r.out);
    INFO("stderr: " << r.err);
    return r;
  }
  // A command with --json that must succeed; its answer.
  json::object json_of(std::vector<std::string> args, const fs::path& cwd = {}) const {
    args.push_back("--json");
    std::string line = "torchexam";
    for (const auto& a : args) line += " " + a;
    const CliRun r = run(std::move(args), cwd);
    INFO(line << ": exit " << r.exit_code << ", stdout " << r.out << ", stderr " << r.err
              << "\ndaemon log:\n" << slurp(root / "state/daemon.log"));
    REQUIRE(r.exit_code == 0);
    json::error_code ec;
    json::value v = json::parse(r.out, ec);
    REQUIRE_FALSE(ec);
    REQUIRE(v.is_object());
    return v.as_object();
  }
};

inline const json::object& task(const json::object& status, const std::string& id) {
  for (const auto& t : status.at("tasks").as_array())
    if (t.at("id").as_string() == id) return t.as_object();
  FAIL("no task " << id);
  static json::object none;
  return none;
}

}  // namespace torchexam::test
