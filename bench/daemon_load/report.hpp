// report.hpp — daemon_load's table: a header, one line per row (a load mode
// at a rate, for one daemon), and the summary over rounds.
//
// Where the time goes, per row: the CPU per call of the daemon and of the
// load generator; how long the daemon's io thread and the loop's thread each
// sat runnable but off a CPU, per call (run-queue wait, from
// /proc/<pid>/task/<tid>/schedstat), and how busy each was (CPU / wall); how
// many of the 2 CPUs the grading job, other processes and the hypervisor
// (steal) took; where the outstanding requests waited (Little's law: sampled
// every 5 ms, how many connections had a request the daemon had not read
// yet, SIOCOUTQ, and how many had a reply this program had not read yet,
// SIOCINQ); p99 of the calls during which a broadcast notification arrived
// on the connection; and the stalls, spans of over 2 ms in which no reply
// arrived at all, each put down to the side that was not running (see
// Measurement). With 200 connections one stall delays 200 calls, 1% of
// 20000: p99 is about the longest stall.
#pragma once

#include "measurement.hpp"
#include "support/proc_stats.hpp"

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace torchexam::bench {

// The counters read before and after a row, around the load.
struct Probe {
  double daemon_cpu_s = 0, own_cpu_s = 0, jobs_cpu_s = 0;
  SchedStat io;  // the daemon's io thread (its main thread)
  MachineCpu machine;
};
Probe take_probe(pid_t daemon);

void print_header(int clients);

struct RowLabel {
  std::string daemon, load;
  bool loop = true;    // the event loop (not "threads"): the loop-only columns mean something
  bool closed = true;  // closed loop: the stall columns mean something
};
// Prints one row; `m.latency_ms` need not be sorted.
void print_row(const RowLabel& label, Measurement m, const Probe& before, const Probe& after);

// p50 and p99 of every row, by variant and load, for the summary.
using RoundFigures = std::map<std::pair<std::string, std::string>, std::vector<std::pair<double, double>>>;
// Per variant (in `order`) and load: the median p50 and p99 over the rounds,
// the p99 range, and how many rounds met p99 <= 5 ms.
void print_summary(const RoundFigures& rows, const std::vector<std::string>& order, int rounds);

}  // namespace torchexam::bench
