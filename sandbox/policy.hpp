// policy.hpp — the order in which the worker closes itself in, after
// containment and before any candidate code:
//
//   network     a new network namespace (no interfaces but a down loopback);
//               else Landlock TCP rules and seccomp refusing non-Unix sockets
//   filesystem  a mount namespace with a minimal root; else Landlock
//   limits      rlimits: CPU, file size, descriptors, no core files, address
//               space (tight only when no memory cgroup holds the job)
//   workdir, output redirection
//   identity    an unprivileged uid (from root), no capabilities
//   environment cleared to an allow-list
//   seccomp     the system-call deny-list, last
//
// Each layer that could not be applied falls back as above and says why in
// the report; TORCHEXAM_SANDBOX_DISABLE=layer,... switches layers off (tests
// of the fallbacks, benchmarks of their cost). A failure of a step that has
// no fallback (the rlimits, the working directory) ends the run with
// internal_error before candidate code runs.
#pragma once

#include "sandbox/filesystem.hpp"
#include "sandbox/steps.hpp"

#include <optional>
#include <string>
#include <vector>

namespace torchexam::sandbox {

struct JobPolicy {
  FilesystemView view;  // exposed paths (the job directory writable)
  std::filesystem::path workdir;
  std::filesystem::path output_log;  // stdout and stderr go here; empty: left as they are
  Limits limits;
  bool memory_cgroup = false;  // the job's memory is held by a cgroup: RLIMIT_AS is only a backstop
  uint64_t memory_bytes = 0;   // the task's memory limit
};

struct LayerReport {
  std::vector<std::string> layers;  // applied, in kLayerNames spelling
  std::vector<std::string> notes;   // fallbacks and why
  std::optional<StepError> error;   // a step without fallback failed
};

LayerReport apply_layers(const JobPolicy& policy);

}  // namespace torchexam::sandbox
