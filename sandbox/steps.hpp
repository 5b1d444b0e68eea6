// steps.hpp — sandbox set-up as an ordered list of small steps.
//
// Each step does one thing and reports failure with the errno it saw, so a
// failed set-up says exactly which step broke and why. The later isolation
// layers (namespaces, cgroups, seccomp, Landlock) are added as further steps.
//
// Threads: run steps before the process starts any thread (before LibTorch
// does any work). Containment (containment.hpp), which forks, comes first.
#pragma once

#include <sys/resource.h>

#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::sandbox {

struct StepError {
  std::string step;
  int error = 0;  // errno
  std::string what;

  std::string message() const;  // "sandbox step 'NAME' failed: WHAT: strerror (errno N)"
};

struct Step {
  std::string name;
  // Returns nullopt on success. Steps set errno-bearing errors themselves.
  std::function<std::optional<StepError>()> run;
};

// Runs steps in order; returns the first failure.
std::optional<StepError> run_steps(const std::vector<Step>& steps);

struct Limits {
  rlim_t cpu_seconds = 0;      // 0: no limit; SIGXCPU at the soft limit, SIGKILL 2 s later
  rlim_t max_open_files = 256;
  rlim_t max_file_size = rlim_t{1} << 30;  // bytes a process may write to one file
  rlim_t address_space = 0;  // RLIMIT_AS in bytes, 0: none. LibTorch needs about 3x its
                             // resident size in address space: keep this generous.
};

// Small steps, each one concern.
Step set_rlimit(const char* name, int resource, rlim_t value);
Step enter_workdir(const std::filesystem::path& dir);
// Points stdout and stderr at `log` (created, appended) so candidate output
// never mixes with the event stream.
Step redirect_output(const std::filesystem::path& log);

std::vector<Step> limit_steps(const Limits& limits);

// Closes every descriptor above stderr except `keep`: whatever the parent
// leaked (its log, its sockets, its database) never reaches candidate code.
Step close_inherited_fds(int keep);

}  // namespace torchexam::sandbox
