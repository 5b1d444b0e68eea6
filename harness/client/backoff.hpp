// backoff.hpp — when to try a lost connection to the proctored server
// again: at once, then after a quarter of a second, doubling up to 5 s,
// until a window (--reconnect-for, 300 s by default) has passed since the
// connection was lost. reconnect_tls (the CLI's submit --wait and follow)
// and the language server (lsp/run.cpp) keep the same schedule through it.
//
// Pure arithmetic on the time points it is given: no clock of its own, no
// sleeping, so a test walks a five-minute window in microseconds.
// Threads: one at a time.
#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

namespace torchexam {

class Backoff {
 public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kFirstPause{250};
  static constexpr std::chrono::milliseconds kLongestPause{5000};
  static constexpr std::chrono::milliseconds kShortestAttempt{100};

  Backoff(Clock::time_point lost_at, std::chrono::milliseconds window) : give_up_at_(lost_at + window) {}

  // After an attempt failed at `now`: the pause before the next one, or
  // nullopt when the next would begin at or after the window's end (give up).
  std::optional<std::chrono::milliseconds> after_failure(Clock::time_point now) {
    if (now + pause_ >= give_up_at_) return std::nullopt;
    const auto pause = pause_;
    pause_ = std::min(pause_ * 2, kLongestPause);
    return pause;
  }
  // How long an attempt made at `now` may take: what is left of the window,
  // at least kShortestAttempt, at most `longest` (the connect timeout).
  std::chrono::milliseconds attempt_timeout(Clock::time_point now, std::chrono::milliseconds longest) const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up_at_ - now);
    return std::clamp(left, kShortestAttempt, std::max(longest, kShortestAttempt));
  }

 private:
  Clock::time_point give_up_at_;
  std::chrono::milliseconds pause_ = kFirstPause;
};

}  // namespace torchexam
