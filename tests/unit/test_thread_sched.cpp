// thread_sched: the calling thread's policy and time slice, and nothing else.
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "base/thread_sched.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdint>
#include <thread>

using namespace torchexam;

namespace {

// The slice of the calling thread in ns (sched_getattr's sched_runtime: the
// kernel's default unless one was asked for; 0 before Linux 6.12).
uint64_t slice_ns() {
  struct {
    uint32_t size, policy;
    uint64_t flags;
    int32_t nice;
    uint32_t priority;
    uint64_t runtime, deadline, period;
    uint32_t util_min, util_max;
  } a{};
  if (::syscall(SYS_sched_getattr, 0, &a, sizeof a, 0) != 0) return 0;
  return a.runtime;
}

// Runs `f` on a thread of its own, so the test's threads keep their settings.
template <class F>
void on_new_thread(F&& f) {
  std::thread t(std::forward<F>(f));
  t.join();
}

}  // namespace

TEST_SUITE("thread_sched") {
  TEST_CASE("a policy applies to the calling thread only, with its niceness") {
    on_new_thread([] {
      CHECK(set_thread_policy("batch", 6) == "");
      CHECK(::sched_getscheduler(0) == SCHED_BATCH);
      CHECK(::getpriority(PRIO_PROCESS, 0) == 6);
      int child_policy = -1;
      on_new_thread([&] { child_policy = ::sched_getscheduler(0); });
      CHECK(child_policy == SCHED_BATCH);  // inherited by what it starts
    });
    on_new_thread([] {
      CHECK(set_thread_policy("idle", 0) == "");
      CHECK(::sched_getscheduler(0) == SCHED_IDLE);
    });
    CHECK(::sched_getscheduler(0) == SCHED_OTHER);
  }

  TEST_CASE("an unknown policy is refused and changes nothing") {
    on_new_thread([] {
      CHECK(set_thread_policy("fifo", 0) != "");
      CHECK_FALSE(valid_thread_policy("fifo"));
      CHECK(::sched_getscheduler(0) == SCHED_OTHER);
    });
  }

  TEST_CASE("a time slice keeps the policy and niceness, and is not inherited") {
    uint64_t default_slice = 0;
    on_new_thread([&] { default_slice = slice_ns(); });
    on_new_thread([&] {
      ::setpriority(PRIO_PROCESS, 0, 3);
      CHECK(set_thread_slice(100) == "");
      CHECK((::sched_getscheduler(0) & ~SCHED_RESET_ON_FORK) == SCHED_OTHER);
      CHECK(::getpriority(PRIO_PROCESS, 0) == 3);
      if (default_slice == 0) torchexam::test::skip_test("this kernel keeps no slice per thread (Linux < 6.12)");
      CHECK(slice_ns() == 100'000);
      uint64_t child = 0;
      on_new_thread([&] { child = slice_ns(); });
      CHECK(child == default_slice);  // reset on fork
      CHECK(set_thread_slice(0) == "");
      CHECK(slice_ns() == default_slice);
    });
  }
}
