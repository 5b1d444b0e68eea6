// containment.hpp — keep every process the candidate starts inside one box
// that dies as a whole.
//
// contain() forks. In the best case (a PID namespace, as root or through a
// user namespace) the process tree becomes
//
//   supervisor (outside) -> init (PID 1 of a new namespace) -> worker (PID 2)
//
// and contain() returns only in the worker. init waits for the worker, writes
// the `exit` event (code or signal, CPU time, peak RSS) to `event_fd` and
// exits; at the wall deadline (ContainOptions::wall_seconds) the reaper
// kills the worker itself, so the status still holds the worker's real CPU
// time and peak memory, marked timed_out; when init exits, or when the supervisor is killed (init has
// PDEATHSIG=SIGKILL), the kernel kills everything left in the namespace,
// including processes that called setsid(). init exists because PID 1 of a
// namespace ignores default-action signals such as SIGXCPU; the worker does
// not.
//
// Fallback when no PID namespace can be made: the runner itself becomes the
// reaper and a child subreaper; the worker stays in the runner's process
// group, which the harness kills at the deadline, and when the worker ends
// the reaper kills the rest of the group and every orphan reparented to it. A setsid() grandchild can escape this mode; every
// run logs which mode it got ("sandbox: ..." in the job log).
//
// TORCHEXAM_CONTAINMENT=process_group in the environment forces the fallback
// (for tests, and to compare the modes).
//
// Must be called before the process starts threads (before LibTorch work).
#pragma once

#include "sandbox/cgroup.hpp"

#include <filesystem>
#include <string>
#include <vector>

namespace torchexam::sandbox {

enum class Containment { pid_namespace, user_pid_namespace, process_group };

const char* to_string(Containment c);

struct ContainOptions {
  // Kernel limits for the whole tree, in a job cgroup when one can be made
  // (the worker and everything it starts join it before candidate code).
  CgroupLimits cgroup;
  // Where the supervisor writes its report (exit, CPU, peak memory, what the
  // cgroup saw, whether anything had to be killed afterwards) as one JSON
  // object. The harness trusts this file over the event stream, which the
  // candidate's code can write to; it must lie outside what the job can see.
  std::filesystem::path status_file;
  // Seconds from now until the reaper kills the worker (SIGKILL) and
  // reports `timed_out`; 0: no deadline here (the caller's own applies).
  double wall_seconds = 0;
};

struct Contained {
  Containment how;
  std::string note;  // what failed on the way (why a weaker mode was used), empty otherwise
  bool cgroup_memory = false;
  bool cgroup_pids = false;
  std::vector<std::string> cgroup_notes;
  // The worker's end of the trusted channel to the supervisor
  // (trusted_channel.hpp); what it carries lands in the status file as
  // `harness_fault`.
  int trusted_fd = -1;
};

// Returns in the worker only. `event_fd` stays open in all three processes.
Contained contain(int event_fd, const ContainOptions& options = {});

}  // namespace torchexam::sandbox
