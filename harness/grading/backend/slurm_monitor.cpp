#include "grading/backend/slurm_monitor.hpp"

#include <algorithm>
#include <tuple>
#include <vector>

namespace torchexam::slurm {

Monitor::Monitor(const Tools& tools, double poll_s)
    : tools_(tools),
      interval_(std::max<std::chrono::milliseconds::rep>(50, static_cast<long>(poll_s * 1000))),
      thread_([this] { loop(); }) {}

Monitor::~Monitor() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  cv_.notify_all();
  thread_.join();
}

void Monitor::watch(int64_t id) {
  {
    std::lock_guard lock(mu_);
    ++watched_[id];
  }
  work_cv_.notify_all();
}

void Monitor::unwatch(int64_t id) {
  std::lock_guard lock(mu_);
  auto it = watched_.find(id);
  if (it == watched_.end()) return;
  if (--it->second > 0) return;
  watched_.erase(it);
  seen_.erase(id);
  missing_.erase(id);
}

Seen Monitor::wait(int64_t id, uint64_t after, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  cv_.wait_for(lock, timeout, [&] { return stop_ || generation_ > after; });
  auto it = seen_.find(id);
  Seen s = it == seen_.end() ? Seen{} : it->second;
  s.generation = generation_;
  return s;
}

std::string Monitor::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void Monitor::loop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    work_cv_.wait(lock, [&] { return stop_ || !watched_.empty(); });
    if (stop_) break;
    lock.unlock();
    const auto started = std::chrono::steady_clock::now();
    poll_once();
    lock.lock();
    work_cv_.wait_until(lock, started + interval_, [&] { return stop_; });
  }
}

void Monitor::poll_once() {
  std::set<int64_t> ids;
  {
    std::lock_guard lock(mu_);
    for (const auto& [id, n] : watched_) ids.insert(id);
  }
  std::vector<JobInfo> jobs;
  std::string error;
  try {
    jobs = tools_.queue();
  } catch (const std::exception& e) {
    error = e.what();
  }
  // Jobs squeue has forgotten: the completion log (outside the lock: a tool call).
  std::map<int64_t, std::optional<JobInfo>> from_log;
  if (error.empty()) {
    std::set<int64_t> listed;
    for (const auto& j : jobs) listed.insert(j.id);
    std::map<int64_t, int> missing;
    {
      std::lock_guard lock(mu_);
      missing = missing_;
    }
    for (int64_t id : ids)
      if (!listed.count(id) && missing[id] >= 1) from_log[id] = tools_.completed(id);
  }

  // Slurm's order for pending jobs: higher priority first, then older.
  std::vector<const JobInfo*> pending;
  for (const auto& j : jobs)
    if (j.state == "PENDING") pending.push_back(&j);
  std::sort(pending.begin(), pending.end(), [](const JobInfo* a, const JobInfo* b) {
    return std::make_tuple(-a->priority, a->submit_time, a->id) < std::make_tuple(-b->priority, b->submit_time, b->id);
  });

  std::lock_guard lock(mu_);
  if (!error.empty()) {
    last_error_ = error;
  } else {
    last_error_.clear();
    for (int64_t id : ids) {
      if (!watched_.count(id)) continue;
      Seen& s = seen_[id];
      auto it = std::find_if(jobs.begin(), jobs.end(), [&](const JobInfo& j) { return j.id == id; });
      if (it != jobs.end()) {
        missing_.erase(id);
        s.info = *it;
        s.lost = false;
        s.position = 0;
        if (it->state == "PENDING") {
          int pos = 0;
          for (const JobInfo* p : pending) {
            if (p->partition == it->partition) ++pos;
            if (p->id == id) break;
          }
          s.position = pos;
        }
        continue;
      }
      s.position = 0;
      auto logged = from_log.find(id);
      if (logged != from_log.end() && logged->second) {
        s.info = *logged->second;
        missing_.erase(id);
        continue;
      }
      if (++missing_[id] > kLostAfter) s.lost = true;
    }
  }
  ++generation_;
  cv_.notify_all();
}

}  // namespace torchexam::slurm
