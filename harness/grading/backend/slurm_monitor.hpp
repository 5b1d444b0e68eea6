// slurm_monitor.hpp — one poller for the state of every job the daemon
// follows, so 500 waiting submissions cost one `squeue --json` per interval,
// not 500.
//
// A thread polls while anything is watched. Jobs squeue no longer lists
// (past MinJobAge) are looked up in the completion log (`sacct -c`); a job
// neither knows for `kLostAfter` polls is reported lost. Queue position is
// the job's place among the pending jobs of its partition, in Slurm's order
// (priority, then submit time). A failed poll keeps the last state and
// records the error; the poll is retried at the next interval.
//
// Thread-safe; wait() is what worker threads block in.
#pragma once

#include "grading/backend/slurm_cli.hpp"

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

namespace torchexam::slurm {

struct Seen {
  std::optional<JobInfo> info;  // nullopt: not seen yet (or lost)
  int position = 0;             // 1.. while pending, else 0
  bool lost = false;            // neither squeue nor sacct knows it
  uint64_t generation = 0;      // the poll this comes from
};

class Monitor {
 public:
  static constexpr int kLostAfter = 20;
  Monitor(const Tools& tools, double poll_s);
  ~Monitor();
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void watch(int64_t id);
  void unwatch(int64_t id);
  // What the newest poll saw of `id`, once a poll newer than `after` has
  // finished or `timeout` passed.
  Seen wait(int64_t id, uint64_t after, std::chrono::milliseconds timeout);
  std::string last_error() const;

 private:
  void loop();
  void poll_once();

  const Tools& tools_;
  const std::chrono::milliseconds interval_;
  mutable std::mutex mu_;
  std::condition_variable cv_;       // a poll finished, or stop
  std::condition_variable work_cv_;  // something to watch, or stop
  std::map<int64_t, int> watched_;   // id -> watchers
  std::map<int64_t, Seen> seen_;
  std::map<int64_t, int> missing_;   // id -> polls it was in neither list
  uint64_t generation_ = 0;
  std::string last_error_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace torchexam::slurm
