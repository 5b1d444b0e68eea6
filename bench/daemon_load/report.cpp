#include "report.hpp"

#include "support/stats.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

namespace torchexam::bench {

Probe take_probe(pid_t daemon) {
  return {process_cpu_seconds(daemon), own_cpu_seconds(), descendants_cpu_seconds(daemon), sched_stat(daemon, daemon),
          machine_cpu()};
}

void print_header(int clients) {
  fmt::print(
      "columns: CPU us/call of the daemon (all its threads) and of this load generator | run-queue wait us/call of "
      "the daemon's io thread and of the loop's thread | their CPU / wall % | times each was put on a CPU, per "
      "call | CPUs (of 2) used by the grading job "
      "(the daemon's child processes), by other processes, stolen by the hypervisor, idle | requests waiting for "
      "the daemon, and replies waiting for the load generator, mean/p99 of samples every 5 ms (of {} outstanding) | "
      "calls during which a notification arrived, their p99 ms | spans over 2 ms without any reply (stalls) = "
      "those that waited for the daemon + those that waited for this program, and the longest in ms\n",
      clients);
  fmt::print(
      "{:>8} {:>14} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>5} {:>5} | {:>5} {:>5} | {:>4} {:>4} | {:>5} {:>5} | {:>4} "
      "{:>4} {:>4} {:>4} | {:>9} {:>9} | {:>5} {:>5} | {:>11} {:>6}\n",
      "daemon", "load", "calls", "p50 ms", "p99 ms", "max ms", "req/s", "daem", "bench", "io", "loop", "io%", "lp%",
      "io/c", "lp/c", "job", "oth", "stl", "idle", "@daemon", "@bench", "noted", "p99n", "stalls d+b", "longst");
}

void print_row(const RowLabel& label, Measurement m, const Probe& before, const Probe& after) {
  std::sort(m.latency_ms.begin(), m.latency_ms.end());
  const auto& all = m.latency_ms;
  const double ok = static_cast<double>(all.size()), per_call = ok > 0 ? 1e6 / ok : 0.0;
  const double daemon_cpu_s = after.daemon_cpu_s - before.daemon_cpu_s;
  const double own_cpu_s = after.own_cpu_s - before.own_cpu_s;
  const double jobs_cpu_s = after.jobs_cpu_s - before.jobs_cpu_s;
  const SchedStat io = after.io - before.io;
  // Shares of the machine's CPU time over the row, in CPUs (2 = both cores).
  const double machine_s = after.machine.total - before.machine.total;
  const double steal_s = after.machine.steal - before.machine.steal;
  const double busy_s = machine_s - (after.machine.idle - before.machine.idle);
  const double others_s = std::max(0.0, busy_s - daemon_cpu_s - own_cpu_s - jobs_cpu_s - steal_s);
  auto in_cpus = [&](double s) { return m.wall_s > 0 ? s / m.wall_s : 0.0; };
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  const bool loop = label.loop;
  auto dash = [loop](std::string text) { return loop ? text : std::string("-"); };
  // Stalls only mean something when every connection always waits on a
  // reply (closed loop); an open loop at a low rate has quiet spans anyway.
  auto stall = [&](std::string text) { return loop && label.closed ? text : std::string("-"); };
  const double longest = m.stall_ms.empty() ? 0.0 : *std::max_element(m.stall_ms.begin(), m.stall_ms.end());
  fmt::print(
      "{:>8} {:>14} {:>6} {:>6.2f} {:>6.2f} {:>6.2f} {:>6.0f} | {:>5.1f} {:>5.1f} | {:>5.1f} {:>5} | {:>4.0f} {:>4} | "
      "{:>5.2f} {:>5} | {:>4.2f} {:>4.2f} {:>4.2f} {:>4.2f} | {:>9} {:>9} | {:>5} {:>5} | {:>11} {:>6}\n",
      label.daemon, label.load, all.size(), percentile(all, 0.50), percentile(all, 0.99),
      all.empty() ? 0.0 : all.back(), ok / m.wall_s, daemon_cpu_s * per_call, own_cpu_s * per_call,
      io.wait_s * per_call, dash(fmt::format("{:.1f}", m.bench_thread.wait_s * per_call)), 100.0 * io.run_s / m.wall_s,
      dash(fmt::format("{:.0f}", 100.0 * m.bench_thread.run_s / m.wall_s)), io.slices / ok,
      dash(fmt::format("{:.2f}", m.bench_thread.slices / ok)), in_cpus(jobs_cpu_s), in_cpus(others_s), in_cpus(steal_s),
      std::max(0.0, in_cpus(machine_s) - in_cpus(busy_s)),
      dash(fmt::format("{:.0f}/{:.0f}", mean(m.at_daemon), percentile(m.at_daemon, 0.99))),
      dash(fmt::format("{:.0f}/{:.0f}", mean(m.at_bench), percentile(m.at_bench, 0.99))),
      dash(fmt::format("{}", m.noted_ms.size())),
      loop && !m.noted_ms.empty() ? fmt::format("{:.2f}", percentile(m.noted_ms, 0.99)) : "-",
      stall(fmt::format("{}={}+{}", m.stall_ms.size(), m.stalls_at_daemon, m.stalls_at_bench)),
      stall(fmt::format("{:.2f}", longest)));
  if (m.errors) fmt::print("first error: {}\n", m.first_error);
}

void print_summary(const RoundFigures& rows, const std::vector<std::string>& order, int rounds) {
  fmt::print("summary over {} rounds: median p50 ms, median p99 ms, p99 range, rounds with p99 <= 5 ms\n", rounds);
  for (const auto& daemon : order)
    for (const auto& [key, figures] : rows) {
      if (key.first != daemon) continue;
      std::vector<double> p50, p99;
      for (const auto& [a, b] : figures) {
        p50.push_back(a);
        p99.push_back(b);
      }
      const auto [low, high] = std::minmax_element(p99.begin(), p99.end());
      const auto met = std::count_if(p99.begin(), p99.end(), [](double x) { return x <= 5.0; });
      fmt::print("{:>8} {:>14} {:>6.2f} {:>6.2f} {:>6.2f}-{:<6.2f} {}/{}\n", key.first, key.second, median(p50),
                 median(p99), *low, *high, met, p99.size());
    }
}

}  // namespace torchexam::bench
