// bench_daemon.hpp — a private torchexamd for a benchmark, and the exam it
// serves: the daemon started in a temporary folder of its own (socket, state,
// log), a practice session opened on it, and optionally the fashion_mnist
// reference submitted and followed until it trains.
//
// Ownership: a BenchDaemon owns its process and its folder; both go away with
// it, even when a benchmark fails half-way (the process is stopped, SIGTERM
// then SIGKILL). Not thread-safe: one thread drives it. Failures to start,
// to listen or to reach training throw std::runtime_error with the tail of
// the daemon's log.
#pragma once

#include "client/client.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace torchexam::bench {

struct DaemonSpec {
  std::filesystem::path exe;                             // torchexamd
  std::vector<std::string> args;                         // after --socket and --state-dir
  std::vector<std::pair<std::string, std::string>> env;  // set in its environment
  std::filesystem::path cache;                           // TORCHEXAM_CACHE_DIR (empty: the user's)
  // In a session of its own (setsid), as the CLI's autostart starts it: with
  // Linux's autogroup scheduling the daemon and its jobs then share one
  // group's CPU share and the benchmark has its own.
  bool own_session = true;
};

class BenchDaemon {
 public:
  // Starts the daemon in `root` (created; removed by the destructor).
  BenchDaemon(const DaemonSpec& spec, std::filesystem::path root);
  ~BenchDaemon();
  BenchDaemon(const BenchDaemon&) = delete;
  BenchDaemon& operator=(const BenchDaemon&) = delete;

  // Connects, waiting up to 10 s for the daemon to listen.
  std::unique_ptr<Client> connect();
  // Waits up to `grace` for the daemon to exit by itself (after
  // daemon/shutdown), then signals it; true when it exited within `grace`.
  bool stop(std::chrono::milliseconds grace);
  std::string log_tail() const;

  const std::filesystem::path& socket() const { return socket_; }
  const std::filesystem::path& root() const { return root_; }
  pid_t pid() const { return pid_; }

 private:
  std::filesystem::path root_, socket_, log_;
  pid_t pid_ = -1;
};

// Opens a practice session on `source`/environments/practice with its
// workspace in `workspace`; returns the session id.
std::string open_practice_session(Client& c, const std::filesystem::path& source,
                                  const std::filesystem::path& workspace);

// Copies the fashion_mnist reference into the workspace, submits it and waits
// (up to 5 minutes: build, runner start, data load) for its first "train"
// progress note. Returns the submission id; throws when it never trains.
int64_t train_reference(BenchDaemon& daemon, Client& c, const std::string& session, const std::filesystem::path& source,
                        const std::filesystem::path& workspace);

// The newest stage of submission `id` among the progress notifications queued
// on `c` (`stage` when none); waits up to `wait` for the first one.
std::string drain_stage(Client& c, int64_t id, std::chrono::milliseconds wait, std::string stage = "");

// From an exam/status result: whether its queue shows a running job, and the
// queue as text ("fashion_mnist#1 running", or "empty").
bool job_running(const boost::json::value& status);
std::string queue_text(const boost::json::value& status);

}  // namespace torchexam::bench
