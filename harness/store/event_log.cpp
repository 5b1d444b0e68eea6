#include "store/event_log.hpp"

#include <fmt/format.h>

namespace torchexam {

EventLog::EventLog(const store::Store& db) : db_(db.reopen()), writer_([this] { run(); }) {}

EventLog::~EventLog() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  wake_.notify_one();
  writer_.join();
}

void EventLog::append(int64_t submission_id, std::string json) {
  {
    std::lock_guard lock(mu_);
    queued_.push_back({submission_id, std::move(json)});
    ++appended_;
  }
  wake_.notify_one();
}

void EventLog::flush() {
  std::unique_lock lock(mu_);
  const uint64_t target = appended_;
  done_.wait(lock, [&] { return committed_ >= target; });
}

std::string EventLog::last_error() const {
  std::lock_guard lock(mu_);
  return last_error_;
}

void EventLog::run() {
  std::unique_lock lock(mu_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !queued_.empty(); });
    if (queued_.empty()) return;  // stopping, and everything is written
    std::vector<store::Store::Event> batch;
    batch.swap(queued_);
    lock.unlock();
    std::string error;
    try {
      db_->add_events(batch);
    } catch (const std::exception& e) {
      error = e.what();
      fmt::print(stderr, "torchexam: {} progress event(s) not stored: {}\n", batch.size(), error);
    }
    lock.lock();
    if (!error.empty()) last_error_ = error;
    committed_ += batch.size();
    done_.notify_all();
  }
}

}  // namespace torchexam
