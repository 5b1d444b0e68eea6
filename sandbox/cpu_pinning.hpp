// cpu_pinning.hpp — which CPUs a grading job runs on (the runner calls this
// on itself, before LibTorch starts its threads).
//
// pin_cpus(threads) pins the calling process to `threads` of the CPUs it may
// use, so a solution that asks LibTorch for more threads shares those CPUs
// instead of taking the machine. It takes the least busy ones over 20 ms
// (ties broken by the pid, so jobs that start together on an idle machine
// spread out), so concurrent jobs with fewer threads than CPUs do not pile
// onto the same ones. Returns how many it pinned to; 0 when nothing changed:
// the mask could not be read or set, or the job may use no more CPUs than
// its thread count anyway. Never throws for a system call's failure.
// Threads: changes the whole process's affinity; call it before starting
// threads.
#pragma once

namespace torchexam::sandbox {

int pin_cpus(int threads);

}  // namespace torchexam::sandbox
