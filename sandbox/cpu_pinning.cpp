// cpu_pinning.cpp — pin_cpus() (cpu_pinning.hpp): the least busy CPUs, by
// /proc/stat sampled 20 ms apart.
#include "sandbox/cpu_pinning.hpp"

#include "sandbox/proc_stat.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <vector>

namespace torchexam::sandbox {
namespace {

// Busy ticks per CPU.
std::vector<unsigned long long> busy_ticks() {
  std::vector<unsigned long long> out;
  for (const CpuTicks& t : read_proc_stat().cpus) out.push_back(t.busy());
  return out;
}

}  // namespace

int pin_cpus(int threads) {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
  std::vector<int> cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &allowed)) cpus.push_back(cpu);
  if (threads <= 0 || static_cast<int>(cpus.size()) <= threads) return 0;
  const auto before = busy_ticks();
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  const auto after = busy_ticks();
  const auto load = [&](int cpu) {
    const auto c = static_cast<size_t>(cpu);
    return c < before.size() && c < after.size() ? after[c] - before[c] : 0ull;
  };
  const int n = static_cast<int>(cpus.size());
  const int shift = static_cast<int>(getpid() % n);
  std::vector<int> order(cpus.size());
  for (int i = 0; i < n; ++i) order[static_cast<size_t>(i)] = cpus[static_cast<size_t>((i + shift) % n)];
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) { return load(a) < load(b); });
  cpu_set_t mine;
  CPU_ZERO(&mine);
  for (int i = 0; i < threads; ++i) CPU_SET(order[static_cast<size_t>(i)], &mine);
  return sched_setaffinity(0, sizeof mine, &mine) == 0 ? threads : 0;
}

}  // namespace torchexam::sandbox
