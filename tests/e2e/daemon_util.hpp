// Helpers of the tests that run a real torchexamd: a daemon on a private
// socket and state folder (started, killed with -9, restarted), waiting for
// a notification, counting processes. Waits are conditions with deadlines.
#pragma once

#include "../test_util.hpp"
#include "client/client.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::test {

namespace fs = std::filesystem;
namespace json = boost::json;

inline const fs::path kDaemon = TORCHEXAM_DAEMON;

inline std::string slurp(const fs::path& p) {
  std::ifstream f(p);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct Daemon {
  fs::path root;
  fs::path socket;
  fs::path state;
  fs::path log;
  pid_t pid = -1;

  std::vector<std::string> extra_args;  // more torchexamd options

  explicit Daemon(const std::string& name) {
    root = fs::temp_directory_path() / ("torchexam-daemon-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(root);
    fs::create_directories(root);
    socket = root / "run" / "d.sock";
    state = root / "state";
    log = root / "daemon.log";
  }
  ~Daemon() {
    if (pid > 0) kill9();
    fs::remove_all(root);
  }

  // Forks and execs torchexamd with its output in `log`.
  void spawn() {
    pid = fork();
    if (pid == 0) {
      int out = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
      dup2(out, 1);
      dup2(out, 2);
      std::vector<std::string> args = {kDaemon.string(), "--socket", socket.string(), "--state-dir", state.string()};
      args.insert(args.end(), extra_args.begin(), extra_args.end());
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(kDaemon.c_str(), argv.data());
      _exit(127);
    }
  }

  // Starts torchexamd; returns its exit status if it exits at once instead.
  std::optional<int> start() {
    spawn();
    std::optional<int> exited;
    const bool up = wait_for(
        [&] {
          int status = 0;
          if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
            return true;
          }
          try {
            Client::connect(socket);
            return true;
          } catch (const ConnectError&) {
            return false;
          }
        },
        std::chrono::seconds(15));
    if (exited) pid = -1;
    REQUIRE_MESSAGE((up || exited), "torchexamd did not come up: " << slurp(log));
    return exited;
  }
  // Runs torchexamd expecting it to refuse to start; returns its exit status.
  int run_expecting_exit() {
    spawn();
    return wait_exit();
  }
  void kill9() {
    ::kill(pid, SIGKILL);
    waitpid(pid, nullptr, 0);
    pid = -1;
  }
  int wait_exit() {
    int status = 0;
    waitpid(pid, &status, 0);
    pid = -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::unique_ptr<Client> client() { return Client::connect(socket); }
};

// Processes of ours whose command name starts with `prefix`.
inline int count_processes(const std::string& prefix) {
  int n = 0;
  DIR* d = opendir("/proc");
  while (dirent* e = d ? readdir(d) : nullptr) {
    if (std::atoi(e->d_name) <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(f, name) && name.rfind(prefix, 0) == 0) ++n;
  }
  if (d) closedir(d);
  return n;
}

// Waits for a notification satisfying `pred`.
inline std::optional<Notification> await(Client& c, const std::function<bool(const Notification&)>& pred,
                                  std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    auto n = c.next_notification(std::chrono::milliseconds(500));
    if (n && pred(*n)) return n;
  }
  return std::nullopt;
}

inline int64_t field_int(const json::value& v, const char* key) { return v.at(key).to_number<int64_t>(); }

}  // namespace torchexam::test
