// thread_sched.hpp — the calling thread's CPU scheduling: its time slice
// and its policy (Linux sched_setattr). The daemon's io thread asks for a
// short slice so that, when it wakes, it runs ahead of grading jobs that are
// in the middle of theirs; grading jobs can run as SCHED_BATCH or SCHED_IDLE.
//
// Contract: each call changes only the calling thread (and what it creates
// afterwards, as Linux children inherit their creator's attributes unless
// the reset-on-fork flag is set, which set_thread_slice sets). Failure: the
// functions return the errno text ("" on success) and change nothing; the
// caller decides whether that matters (it never does for correctness).
#pragma once

#include <string>

namespace torchexam {

// Keeps SCHED_OTHER and the thread's nice value, and asks the fair scheduler
// for a time slice of `us` microseconds (Linux >= 6.12 clamps it to
// 100 us..100 ms; older kernels ignore it; 0 restores the default). With
// reset-on-fork: processes and threads the caller creates later get the
// default slice.
std::string set_thread_slice(int us);

// "normal" (SCHED_OTHER), "batch" (SCHED_BATCH: the scheduler treats the
// thread as CPU-bound, never lets its wake-ups preempt) or "idle" (SCHED_IDLE:
// it runs only when nothing else of normal policy wants the CPU, and any
// waking normal task preempts it). `nice` is kept for normal and batch.
std::string set_thread_policy(const std::string& policy, int nice);

bool valid_thread_policy(const std::string& policy);

}  // namespace torchexam
