// clock.hpp — time behind an interface, so a five-hour exam can be tested in
// microseconds (STYLE.md: leveldb's Env, ninja's test clock).
//
// now_ms() is wall-clock Unix time in milliseconds: deadlines are stored as
// wall time so they survive a daemon restart. FakeClock starts at a fixed
// instant and moves only when advance() is called. Thread-safe.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>

namespace torchexam {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t now_ms() const = 0;
};

class SystemClock final : public Clock {
 public:
  int64_t now_ms() const override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

class FakeClock final : public Clock {
 public:
  explicit FakeClock(int64_t start_ms = 1'800'000'000'000) : now_(start_ms) {}
  int64_t now_ms() const override { return now_.load(); }
  void advance(int64_t ms) { now_ += ms; }

 private:
  std::atomic<int64_t> now_;
};

}  // namespace torchexam
