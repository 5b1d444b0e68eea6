#include "sandbox/proc_stat.hpp"

#include <algorithm>
#include <cctype>
#include <fstream>
#include <sstream>
#include <string>

namespace torchexam::sandbox {

ProcStat parse_proc_stat(const std::string& text) {
  ProcStat out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("cpu", 0) != 0) continue;
    std::istringstream in(line);
    std::string name;
    CpuTicks t;
    if (!(in >> name >> t.user >> t.nice >> t.system >> t.idle)) continue;
    in >> t.iowait >> t.irq >> t.softirq >> t.steal;  // older kernels stop early: zeros
    if (name == "cpu") {
      out.all = t;
      continue;
    }
    const std::string digits = name.substr(3);
    if (digits.empty() || digits.size() > 5 ||
        !std::all_of(digits.begin(), digits.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }))
      continue;
    const size_t cpu = std::stoul(digits);
    if (out.cpus.size() <= cpu) out.cpus.resize(cpu + 1);
    out.cpus[cpu] = t;
  }
  return out;
}

ProcStat read_proc_stat() {
  std::ifstream in("/proc/stat");
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  return parse_proc_stat(text.str());
}

}  // namespace torchexam::sandbox
