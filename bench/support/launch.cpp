#include "launch.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <stdexcept>
#include <thread>

extern char** environ;

namespace torchexam::bench {

pid_t launch(const LaunchSpec& spec) {
  if (spec.argv.empty()) throw std::runtime_error("launch: no program");
  // The child's argv and environment, built before fork.
  std::vector<std::string> env_text;
  auto overridden = [&](std::string_view entry) {
    const std::string_view name = entry.substr(0, entry.find('='));
    return std::find(spec.unset_env.begin(), spec.unset_env.end(), name) != spec.unset_env.end() ||
           std::any_of(spec.env.begin(), spec.env.end(), [&](const auto& kv) { return kv.first == name; });
  };
  for (char** e = environ; *e; ++e)
    if (!overridden(*e)) env_text.emplace_back(*e);
  for (const auto& [name, value] : spec.env) env_text.push_back(name + "=" + value);
  std::vector<char*> argv, envp;
  for (const auto& a : spec.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (auto& e : env_text) envp.push_back(e.data());
  envp.push_back(nullptr);
  const std::string output = spec.output.string();
  const std::string cannot = "launch: cannot run " + spec.argv[0] + "\n";

  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("cannot fork to start " + spec.argv[0]);
  if (pid > 0) return pid;
  if (spec.own_session) ::setsid();
  if (!output.empty()) {
    const int fd = ::open(output.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) {
      ::dup2(fd, 1);
      ::dup2(fd, 2);
    }
  }
  if (spec.stdin_fd >= 0) ::dup2(spec.stdin_fd, 0);
  if (spec.stdout_fd >= 0) ::dup2(spec.stdout_fd, 1);
  ::execve(argv[0], argv.data(), envp.data());
  (void)!::write(2, cannot.data(), cannot.size());
  ::_exit(127);
}

bool wait_exit(pid_t pid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  do {
    int status = 0;
    const pid_t r = ::waitpid(pid, &status, WNOHANG);
    if (r == pid || r < 0) return true;  // r < 0: not our child (any more)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  } while (std::chrono::steady_clock::now() < until);
  return false;
}

bool stop(pid_t pid, std::chrono::milliseconds grace) {
  if (wait_exit(pid, grace)) return true;
  ::kill(pid, SIGTERM);
  if (!wait_exit(pid, std::chrono::seconds(5))) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  return false;
}

}  // namespace torchexam::bench
