// proc_stat.hpp — the kernel's CPU time counters (/proc/stat), read in one
// place for the runner's CPU pinning, the doctor's forecast (load and steal
// while it measures) and the benchmarks.
//
// Counters are clock ticks since boot (sysconf(_SC_CLK_TCK) per second);
// differences of two readings give where the time went in between. A
// reading that fails (no /proc) is empty: callers treat it as "unknown".
// Threads: any (reads a file; no shared state).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::sandbox {

struct CpuTicks {
  uint64_t user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  // Everything but idle and iowait.
  uint64_t busy() const { return user + nice + system + irq + softirq + steal; }
  // busy() + idle + iowait (guest time is inside user already).
  uint64_t total() const { return busy() + idle + iowait; }
};

struct ProcStat {
  std::optional<CpuTicks> all;  // the "cpu" line: every CPU together
  std::vector<CpuTicks> cpus;   // "cpuN" lines, indexed by N (absent CPUs: zeros)
};

// Reads /proc/stat, or `text` when given (for tests).
ProcStat read_proc_stat();
ProcStat parse_proc_stat(const std::string& text);

}  // namespace torchexam::sandbox
