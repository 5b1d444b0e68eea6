// Helpers of the tests that run a real torchexamd: a daemon on a private
// socket and state folder (started, killed with -9, restarted), waiting for
// a notification, counting processes. Waits are conditions with deadlines.
#pragma once

#include "../test_util.hpp"
#include "base/process.hpp"
#include "client/client.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <dirent.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <exception>
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
  pid_t pid = -1;  // while it runs

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
    child.reset();  // kills it (-9) if it still runs
    // A test that ends by an exception (a connection the daemon closed, say)
    // shows the end of the daemon's log before the folder goes.
    if (std::uncaught_exceptions() > 0) {
      const std::string text = slurp(log);
      std::fprintf(stderr, "--- the end of %s ---\n%s\n", log.c_str(),
                   text.substr(text.size() > 8000 ? text.size() - 8000 : 0).c_str());
    }
    fs::remove_all(root);
  }

  // Starts torchexamd with its output in `log`.
  void spawn() {
    std::vector<std::string> args = {"--socket", socket.string(), "--state-dir", state.string()};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    child = std::make_unique<ChildProcess>(kDaemon, args, log);
    pid = child->pid();
  }

  // Starts torchexamd; returns its exit status if it exits at once instead.
  // Up means this daemon answers: after a kill -9 the socket file can still
  // accept a connection for a moment (a child the killed daemon had just
  // forked holds its listening socket until it exits), so the pid it gives
  // is compared. The wait covers a restart that waits for such a child
  // (torchexamd waits up to 15 s for a dead daemon's lock).
  std::optional<int> start() {
    spawn();
    std::optional<int> exited;
    const bool up = wait_for(
        [&] {
          if ((exited = child->exited())) return true;
          try {
            const boost::json::value info = Client::connect(socket)->call("daemon/info", boost::json::object{});
            return info.at("pid").to_number<pid_t>() == pid;
          } catch (const std::exception&) {  // not listening yet, or the old socket's connection reset
            return false;
          }
        },
        std::chrono::seconds(30));
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
    child->kill(SIGKILL);
    child->wait();
    pid = -1;
  }
  // Its exit code (128 + N when signal N ended it).
  int wait_exit() {
    const int status = child->wait();
    pid = -1;
    return status;
  }
  std::unique_ptr<Client> client() { return Client::connect(socket); }

 private:
  std::unique_ptr<ChildProcess> child;
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
