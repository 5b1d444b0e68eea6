// Helpers shared by the end-to-end tests.
#pragma once

#include <chrono>
#include <thread>

namespace torchexam::test {

// Polls `cond` until it holds or `deadline` passes; returns the last result.
// (A condition with a deadline, never a bare sleep.)
template <class F>
bool wait_for(F&& cond, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  while (std::chrono::steady_clock::now() < until) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return cond();
}

}  // namespace torchexam::test
