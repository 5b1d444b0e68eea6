// cgroup.hpp — a per-job control group for kernel-enforced memory and
// process limits, peak memory and whole-tree kill.
//
// Machines differ: a pure cgroup v2 host delegates controllers on the
// unified mount; a hybrid host (such as Debian containers on cgroup v1) has
// an empty cgroup2 mount and per-controller v1 hierarchies. Everything here
// is found at run time from /proc/self/mountinfo and /proc/self/cgroup: the
// job's group is created beneath the process's own group in whichever
// hierarchy actually offers the controller, v2 first.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace torchexam::sandbox {

enum class CgroupController { memory, pids };

struct CgroupProbe {
  bool ok = false;
  std::string detail;  // "v1 at /sys/fs/cgroup/memory/x" or why not
};

// Creates and removes a probe group with a limit written to it.
CgroupProbe probe_cgroup(CgroupController controller);

struct CgroupLimits {
  uint64_t memory_bytes = 0;  // 0: no memory group
  uint64_t max_pids = 0;      // 0: no pids group
};

class JobCgroup {
 public:
  // Creates `name` beneath this process's groups for each limit asked for
  // and available; `notes` receives why a controller was not used.
  static std::unique_ptr<JobCgroup> create(const std::string& name, const CgroupLimits& limits,
                                           std::vector<std::string>& notes);
  ~JobCgroup();  // kills what is left and removes the groups
  JobCgroup(const JobCgroup&) = delete;
  JobCgroup& operator=(const JobCgroup&) = delete;

  bool has_memory() const { return !memory_dir_.empty(); }
  bool has_pids() const { return !pids_dir_.empty(); }

  // Moves `pid` (0: the caller) into every group. Returns an error text, or empty.
  std::string join(pid_t pid) const;
  // Peak memory of the group in bytes, 0 when unknown.
  uint64_t memory_peak() const;
  // True when the kernel OOM-killed something in the group.
  bool oom_killed() const;
  // True when a fork or clone failed on the pids limit.
  bool pids_limit_hit() const;
  // Processes still in the groups (0 after a successful kill_all).
  size_t member_count() const;
  // Kills every process in the groups (cgroup.kill on v2, else SIGKILL to
  // each listed pid until the groups are empty).
  void kill_all() const;
  // kill_all(), then removes the groups (also done by the destructor; for
  // a supervisor that ends with _exit).
  void remove();

 private:
  JobCgroup() = default;
  std::filesystem::path memory_dir_;
  bool memory_v2_ = false;
  std::filesystem::path pids_dir_;
  bool pids_v2_ = false;
};

}  // namespace torchexam::sandbox
