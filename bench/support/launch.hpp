// launch.hpp — how the benchmarks start a program in the background: one
// fork and exec, with the child's environment, session and standard streams
// set. Every background process a benchmark starts goes through launch(), so
// that it can be swapped for the harness's process launcher in one place.
//
// Contract: launch() prepares everything before fork (nothing is allocated in
// the child) and returns the child's pid; a program that cannot be executed
// exits with 127 after a line on its stderr. It throws std::runtime_error
// when fork fails. The caller owns the child and reaps it (wait_exit, stop).
// File descriptors the caller passes are duplicated onto 0/1/2 in the child;
// the caller should open its other descriptors with O_CLOEXEC so that the
// child does not hold them.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

namespace torchexam::bench {

struct LaunchSpec {
  std::vector<std::string> argv;                         // argv[0] is the program's path
  std::vector<std::pair<std::string, std::string>> env;  // set on top of this process's environment
  std::vector<std::string> unset_env;                    // removed from it
  bool own_session = false;                              // setsid() in the child
  std::filesystem::path output;                          // when set: stdout and stderr to this file (truncated)
  int stdin_fd = -1;                                     // when >= 0: the child's stdin
  int stdout_fd = -1;                                    // when >= 0: the child's stdout (over `output`)
};

pid_t launch(const LaunchSpec& spec);

// Waits up to `timeout` for `pid` to exit and reaps it; true when it did.
bool wait_exit(pid_t pid, std::chrono::milliseconds timeout);

// Waits up to `grace` for `pid` to exit by itself, then sends SIGTERM and
// waits 5 s, then SIGKILL. Always reaps it; true when it exited within `grace`.
bool stop(pid_t pid, std::chrono::milliseconds grace);

}  // namespace torchexam::bench
