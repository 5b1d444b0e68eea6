// process.hpp — run a child process under a wall-clock deadline.
//
// The child is started with Boost.Process in a process group of its own, its
// stdout read line by line through Boost.Asio and handed to `on_line` (on the
// calling thread), its stderr written to a file. At the deadline the whole
// group is killed with SIGKILL (the runner's PID namespace takes the rest of
// the tree with it). run_process returns when the child has exited and its
// stdout is drained, or a short grace after the exit or the kill when
// something left behind keeps the pipe open.
//
// Lines longer than 1 MiB are cut and delivered in pieces. Failure to start
// throws std::runtime_error with the executable's path.
#pragma once

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam {

struct ProcessSpec {
  std::filesystem::path exe;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // set on top of this process's environment
  std::filesystem::path cwd;               // empty: inherit
  std::filesystem::path stderr_file;       // required
  double wall_timeout_s = 60;
  double cpu_limit_s = 0;  // RLIMIT_CPU for the child when > 0 (the runner sets its own)
  // When set and it becomes true, the group is killed as at the deadline
  // (checked every 50 ms) and the result says cancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct ProcessResult {
  bool timed_out = false;  // the deadline passed and the group was killed
  bool cancelled = false;  // spec.cancel became true and the group was killed
  std::optional<int> exit_code;
  std::optional<int> signal;
  double wall_s = 0;
  // Set by a scheduler backend (backend/backend.hpp); a local run leaves them.
  bool memory_exceeded = false;  // the scheduler stopped it for using more memory than the job reserved
  std::string scheduler_note;    // what the scheduler did that the fields above don't say
};

ProcessResult run_process(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line);

}  // namespace torchexam
