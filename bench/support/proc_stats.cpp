#include "proc_stats.hpp"

#include "sandbox/proc_stat.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>

namespace torchexam::bench {

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

double process_cpu_seconds(pid_t pid) {
  const std::string text = slurp(fmt::format("/proc/{}/stat", pid));
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stod(f);
    if (i == 15) {
      stime = std::stod(f);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double descendants_cpu_seconds(pid_t root) {
  std::map<pid_t, pid_t> parent;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const std::string text = slurp("/proc/" + name + "/stat");
    const size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    parent[std::atoi(name.c_str())] = ppid;
  }
  double total = 0;
  for (const auto& [pid, ppid] : parent) {
    pid_t p = ppid;
    for (int depth = 0; depth < 64 && p > 1 && p != root; ++depth) {
      auto it = parent.find(p);
      p = it == parent.end() ? 0 : it->second;
    }
    if (p == root) total += process_cpu_seconds(pid);
  }
  return total;
}

double own_cpu_seconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    ::getrusage(who, &u);
    total += static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }
  return total;
}

SchedStat sched_stat(pid_t pid, pid_t tid) {
  std::istringstream in(slurp(fmt::format("/proc/{}/task/{}/schedstat", pid, tid)));
  SchedStat s;
  in >> s.run_s >> s.wait_s >> s.slices;
  s.run_s /= 1e9;
  s.wait_s /= 1e9;
  return s;
}

SchedStat operator-(const SchedStat& after, const SchedStat& before) {
  return {after.run_s - before.run_s, after.wait_s - before.wait_s, after.slices - before.slices};
}

MachineCpu machine_cpu() {
  const sandbox::CpuTicks t = sandbox::read_proc_stat().all.value_or(sandbox::CpuTicks{});
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return {static_cast<double>(t.total()) / hz, static_cast<double>(t.steal) / hz,
          static_cast<double>(t.idle + t.iowait) / hz};
}

}  // namespace torchexam::bench
