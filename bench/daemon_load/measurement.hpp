// measurement.hpp — what one row of daemon_load measures: every call's
// latency, and the figures that say where the time went.
//
// A Measurement is filled by one load scenario (load.hpp) on one thread; a
// load process sends its Measurement to the benchmark as JSON (to_json) and
// the benchmark merges them (add).
#pragma once

#include "support/proc_stats.hpp"

#include <boost/json/value.hpp>

#include <chrono>
#include <string>
#include <vector>

namespace torchexam::bench {

struct Measurement {
  std::vector<double> latency_ms;
  std::vector<double> noted_ms;  // the calls during which a notification arrived on the connection (loop only)
  int running = 0;               // replies whose queue showed a running job
  int errors = 0;
  std::string first_error;
  double wall_s = 0;
  SchedStat bench_thread;  // the load generator's thread (loop only)
  // Where the outstanding requests were, sampled every few milliseconds
  // (loop only): waiting for the daemon (request bytes it has not read yet)
  // or for the load generator (reply bytes it has not read yet).
  std::vector<double> at_daemon, at_bench;
  // Stalls (loop only): spans of more than 2 ms in which no reply at all
  // arrived. With every connection waiting, one stall delays every call in
  // flight, so with 200 connections one stall is 1% of 20000 calls: p99 is
  // about the longest stall. Each is put down to the side that was not
  // running: when it ends, most connections have a reply waiting for us
  // (this program was off the CPU while the daemon answered) or a request
  // waiting for the daemon.
  std::vector<int> fds;
  std::chrono::steady_clock::time_point last_reply{};
  std::vector<double> stall_ms;
  int stalls_at_daemon = 0, stalls_at_bench = 0;

  // Records a reply's arrival at `now`, and the stall before it if any.
  void reply_arrived(std::chrono::steady_clock::time_point now);
  // How many of `fds` have a request the daemon has not read, and a reply
  // this program has not read (SIOCOUTQ, SIOCINQ).
  std::pair<int, int> waiting() const;
};

// A load process's report: its Measurement, with the sampled queue lengths as
// their mean (samples of different processes are not taken at the same
// moments).
boost::json::object to_json(const Measurement& m);

// Adds one load process's report to `m`. The loop threads' scheduler figures
// are summed (their CPU % is then over all processes), the sampled queue
// lengths summed as means, the stalls kept per process (a stall of one
// process holds up only its own connections).
void add(Measurement& m, const boost::json::value& report);

}  // namespace torchexam::bench
