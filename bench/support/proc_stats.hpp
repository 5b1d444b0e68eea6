// proc_stats.hpp — CPU and scheduler figures of processes, threads and the
// machine, read from /proc, for the benchmarks' "where the time goes".
//
// Every function reads the kernel's counters at the moment of the call;
// callers take a reading before and after a measurement and subtract. A
// process or thread that is gone reads as zero. Thread-safe (no state).
#pragma once

#include <sys/types.h>

#include <string>

namespace torchexam::bench {

// The whole file at `path` ("" when it cannot be read).
std::string slurp(const std::string& path);

// CPU seconds process `pid` has used so far (user + system, all its threads).
double process_cpu_seconds(pid_t pid);

// CPU seconds used so far by the living descendants of `root` (a daemon's
// grading jobs: supervisor, runner, compiler).
double descendants_cpu_seconds(pid_t root);

// This program's CPU seconds, with those of its children that have ended and
// been reaped.
double own_cpu_seconds();

// One thread's scheduler statistics: seconds on a CPU, seconds runnable but
// waiting for one (the run queue), and how many times it was put on a CPU.
struct SchedStat {
  double run_s = 0, wait_s = 0;
  double slices = 0;
};
SchedStat sched_stat(pid_t pid, pid_t tid);
SchedStat operator-(const SchedStat& after, const SchedStat& before);

// The machine's CPU time by kind, in seconds summed over all CPUs.
struct MachineCpu {
  double total = 0, steal = 0, idle = 0;
};
MachineCpu machine_cpu();

}  // namespace torchexam::bench
