// options.hpp — daemon_load's command line (daemon_load --help describes
// each option) and the torchexamd variants it compares.
#pragma once

#include "load.hpp"
#include "support/bench_daemon.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::bench {

// A torchexamd to measure: its label in the table and how to start it.
struct Variant {
  std::string label;
  DaemonSpec daemon;
};

struct Options {
  std::string load = "loop";   // loop: one event loop drives every connection; threads: a thread per client
  std::string check = "full";  // loop: parse every message (full) or only look at the bytes it needs (light)
  int clients = 200;
  int calls = 50;
  int rounds = 1;
  bool train = false;
  int concurrency = 1;
  int job_nice = 10;          // torchexamd's default
  std::vector<int> procs{1};  // loop rows: processes the connections are spread over
  std::string watcher = "none";
  std::filesystem::path source;
  std::vector<Variant> variants;
  std::vector<double> rates{0};  // requests/s offered; 0: closed loop
  // Set when this program runs as one of --procs' load processes.
  std::optional<Share> load_process;
  LoadTarget target;  // of a load process
};

// Returns nullopt when CLI11 has answered (--help) or refused the command
// line; `exit_code` is then what main returns. Exits with 2 on options that
// contradict each other.
std::optional<Options> parse_options(int argc, char** argv, int& exit_code);

}  // namespace torchexam::bench
