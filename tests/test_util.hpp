// Helpers shared by the end-to-end tests.
#pragma once

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <string>
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

// Ends the running test case as skipped: prints "skipped: <why>" and exits
// with status 77, which CTest reports as "Not Run (Skipped)" for a test
// registered with SKIP_RETURN_CODE 77. The process ends here, so a case that
// may skip is registered as a CTest test of its own (tests/CMakeLists.txt):
// a skip then never hides the other cases of its suite, and is never counted
// as passed.
[[noreturn]] inline void skip_test(const std::string& why) {
  std::cout << std::flush;
  std::printf("skipped: %s\n", why.c_str());
  std::fflush(stdout);
  std::_Exit(77);
}

}  // namespace torchexam::test
