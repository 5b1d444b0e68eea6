// load.hpp — daemon_load's load scenarios: C client connections calling
// exam/status N times each on one daemon, driven three ways.
//
//   measure_loop     one thread, one event loop for every connection
//                    (loop_load.cpp): closed loop (rate 0) or open loop at
//                    R requests/s in all; every reply parsed as JSON or only
//                    looked at (light)
//   measure_threads  a thread and a blocking Client per connection, closed
//                    loop (thread_load.cpp)
//   measure_procs    the event loop's connections spread over P load
//                    processes, each this program again (process_load.cpp)
//
// Each returns when every call has been answered (or has failed: errors are
// counted in the Measurement, not thrown). The clock starts once every
// connection is open.
#pragma once

#include "measurement.hpp"

#include <filesystem>
#include <functional>
#include <string>

namespace torchexam::bench {

// What the clients call: `calls` exam/status calls of `session` from each of
// `clients` connections to `socket`.
struct LoadTarget {
  std::filesystem::path socket;
  std::string session;
  int clients = 200;
  int calls = 50;
};

// The clients one load process drives: of the C clients, numbered 0..C-1,
// those with number % count == index.
struct Share {
  int index = 0, count = 1;
};

// `rate` 0: closed loop; otherwise the requests/s offered by all C clients
// (open loop). `ready` runs once this share's clients are connected, before
// the clock starts.
Measurement measure_loop(const LoadTarget& t, bool light, double rate, Share share = {},
                         const std::function<void()>& ready = {});

Measurement measure_threads(const LoadTarget& t);

// `procs` 1 is measure_loop itself.
Measurement measure_procs(const LoadTarget& t, int procs, bool light, double rate);

// The load process's side of measure_procs: connects its share, writes
// "ready\n" to stdout, waits for EOF on stdin, measures, and writes its
// Measurement as JSON to stdout. Returns the exit code.
int run_load_process(const LoadTarget& t, Share share, bool light, double rate);

}  // namespace torchexam::bench
