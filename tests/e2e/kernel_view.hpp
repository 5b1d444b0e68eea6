// kernel_view.hpp — a process as the kernel shows it to an outsider, for the
// hostile suite: which isolation layers are really in force on a job's
// process, read from /proc/<pid> and the cgroup filesystem, never from the
// runner's own report or the sandbox's probe code.
//
// Everything is read by this (test) process from the host's /proc and
// cgroup mounts; nothing here forks, writes or changes the process seen.
// Reads that fail leave the member empty, which the caller's checks treat
// as "not in force": a view of nothing can never pass for a sandbox.
#pragma once

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

namespace torchexam::test {

namespace kernel {

namespace fs = std::filesystem;

inline std::string read_text(const fs::path& file) {
  std::ifstream in(file);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// "Name:\tvalue" lines of /proc/<pid>/status.
inline std::map<std::string, std::string> status_of(int pid) {
  std::map<std::string, std::string> out;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const auto value = line.find_first_not_of(" \t", colon + 1);
    out[line.substr(0, colon)] = value == std::string::npos ? "" : line.substr(value);
  }
  return out;
}

// The parent pid from /proc/<pid>/stat (0 when gone). The command name in
// parentheses may hold spaces and ')': the fields follow the last ')'.
inline int parent_of(int pid) {
  const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = stat.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(stat.substr(close + 1));
  std::string state;
  int ppid = 0;
  rest >> state >> ppid;
  return ppid;
}

inline bool descends_from(int pid, int ancestor) {
  for (int p = pid, hops = 0; p > 1 && hops < 64; p = parent_of(p), ++hops)
    if (p == ancestor) return true;
  return false;
}

// The inode of namespace `kind` ("pid", "mnt", "net", "user") of `pid`
// ("self" for this process), 0 when unreadable.
inline ino_t namespace_of(const std::string& pid, const char* kind) {
  struct stat st {};
  return stat(("/proc/" + pid + "/ns/" + kind).c_str(), &st) == 0 ? st.st_ino : 0;
}

inline std::vector<int> all_pids() {
  std::vector<int> pids;
  DIR* d = opendir("/proc");
  while (dirent* e = d ? readdir(d) : nullptr)
    if (const int pid = std::atoi(e->d_name); pid > 0) pids.push_back(pid);
  if (d) closedir(d);
  return pids;
}

// Threads (pid, tid) descending from `ancestor` whose name is `comm`.
inline std::vector<std::pair<int, int>> threads_named(const std::string& comm, int ancestor) {
  std::vector<std::pair<int, int>> out;
  for (int pid : all_pids()) {
    if (!descends_from(pid, ancestor)) continue;
    DIR* d = opendir(("/proc/" + std::to_string(pid) + "/task").c_str());
    while (dirent* e = d ? readdir(d) : nullptr) {
      const int tid = std::atoi(e->d_name);
      if (tid <= 0) continue;
      std::string name = read_text("/proc/" + std::to_string(pid) + "/task/" + e->d_name + "/comm");
      while (!name.empty() && name.back() == '\n') name.pop_back();
      if (name == comm) out.emplace_back(pid, tid);
    }
    if (d) closedir(d);
  }
  return out;
}

// Where this host mounts the cgroup hierarchy holding `controller`
// ("memory", "pids"): a v1 mount naming it, else the v2 mount when its
// root lists it in cgroup.controllers. Empty when neither exists.
struct Hierarchy {
  fs::path mount;
  bool v2 = false;
};
inline std::optional<Hierarchy> hierarchy_of(const std::string& controller) {
  std::ifstream in("/proc/self/mountinfo");
  std::optional<Hierarchy> v2;
  for (std::string line; std::getline(in, line);) {
    // ... mount-point ... - fstype source super-options
    std::istringstream f(line);
    std::string id, parent, dev, root, point;
    f >> id >> parent >> dev >> root >> point;
    const auto dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream tail(line.substr(dash + 3));
    std::string type, source, options;
    tail >> type >> source >> options;
    if (type == "cgroup") {
      std::istringstream opts(options);
      for (std::string o; std::getline(opts, o, ',');)
        if (o == controller) return Hierarchy{point, false};
    } else if (type == "cgroup2" && !v2) {
      std::istringstream listed(read_text(fs::path(point) / "cgroup.controllers"));
      for (std::string c; listed >> c;)
        if (c == controller) v2 = Hierarchy{point, true};
    }
  }
  return v2;
}

// The folder of `pid`'s cgroup in `h`, from /proc/<pid>/cgroup; empty when
// unknown.
inline fs::path cgroup_dir(int pid, const std::string& controller, const Hierarchy& h) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/cgroup");
  for (std::string line; std::getline(in, line);) {
    // hierarchy-id:controller,list:path ("0::path" for v2)
    const auto first = line.find(':'), second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    bool match = h.v2 ? controllers.empty() : false;
    std::istringstream list(controllers);
    for (std::string c; !h.v2 && std::getline(list, c, ',');) match = match || c == controller;
    if (match) return h.mount / fs::path(path).relative_path();
  }
  return {};
}

// A limit file's value: nullopt when missing or unlimited ("max", or v1's
// huge page-rounded "no limit").
inline std::optional<uint64_t> limit_in(const fs::path& file) {
  std::istringstream in(read_text(file));
  std::string v;
  if (!(in >> v) || v == "max") return std::nullopt;
  try {
    const uint64_t n = std::stoull(v);
    if (n >= (uint64_t{1} << 62)) return std::nullopt;
    return n;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

inline bool lists_pid(const fs::path& procs_file, int pid) {
  std::istringstream in(read_text(procs_file));
  for (int p; in >> p;)
    if (p == pid) return true;
  return false;
}

// The soft limit of "Max <what>" in /proc/<pid>/limits: "unlimited" or a number.
inline std::string soft_limit(int pid, const std::string& what) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/limits");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(what, 0) != 0) continue;
    std::istringstream rest(line.substr(what.size()));
    std::string soft;
    rest >> soft;
    return soft;
  }
  return "";
}

}  // namespace kernel

// One process of a job, seen from outside.
struct KernelView {
  int pid = 0;
  std::map<std::string, std::string> status;  // /proc/<pid>/status
  std::map<std::string, ino_t> ns, own_ns;    // its namespaces and this process's
  std::filesystem::path memory_cgroup, pids_cgroup;
  std::optional<uint64_t> memory_limit, pids_max;  // in force on its cgroups
  bool in_memory_cgroup = false, in_pids_cgroup = false;
  std::map<std::string, std::string> rlimits;  // "cpu time", "open files", ... -> soft limit

  // The layers of sandbox/layers.hpp this view proves in force (Landlock
  // has no outside view and is never listed).
  std::set<std::string> layers() const {
    std::set<std::string> out;
    for (const char* kind : {"pid", "mnt", "net", "user"}) {
      const auto mine = ns.find(kind), ours = own_ns.find(kind);
      if (mine == ns.end() || ours == own_ns.end() || mine->second == 0 || mine->second == ours->second) continue;
      out.insert(std::string(kind) == "pid"   ? "pid_namespace"
                 : std::string(kind) == "mnt" ? "mount_namespace"
                 : std::string(kind) == "net" ? "network_namespace"
                                              : "user_namespace");
    }
    if (status.count("Seccomp") && status.at("Seccomp") == "2") out.insert("seccomp");
    if (memory_limit && in_memory_cgroup) out.insert("cgroup_memory");
    if (pids_max && in_pids_cgroup) out.insert("cgroup_pids");
    auto limited = [&](const char* what) {
      const auto it = rlimits.find(what);
      return it != rlimits.end() && !it->second.empty() && it->second != "unlimited";
    };
    if (limited("open files") && limited("file size") && rlimits.count("core file size") &&
        rlimits.at("core file size") == "0")
      out.insert("rlimits");
    // Real, effective, saved and filesystem uid all other than root.
    if (status.count("Uid")) {
      std::istringstream uids(status.at("Uid"));
      int n = 0, root = 0;
      for (long u; uids >> u; ++n) root += u == 0;
      if (n == 4 && root == 0) out.insert("unprivileged_uid");
    }
    return out;
  }
};

inline KernelView look_at(int pid) {
  KernelView v;
  v.pid = pid;
  v.status = kernel::status_of(pid);
  for (const char* kind : {"pid", "mnt", "net", "user"}) {
    v.ns[kind] = kernel::namespace_of(std::to_string(pid), kind);
    v.own_ns[kind] = kernel::namespace_of("self", kind);
  }
  if (auto h = kernel::hierarchy_of("memory")) {
    v.memory_cgroup = kernel::cgroup_dir(pid, "memory", *h);
    if (!v.memory_cgroup.empty()) {
      v.memory_limit = kernel::limit_in(v.memory_cgroup / (h->v2 ? "memory.max" : "memory.limit_in_bytes"));
      v.in_memory_cgroup = kernel::lists_pid(v.memory_cgroup / "cgroup.procs", pid);
    }
  }
  if (auto h = kernel::hierarchy_of("pids")) {
    v.pids_cgroup = kernel::cgroup_dir(pid, "pids", *h);
    if (!v.pids_cgroup.empty()) {
      v.pids_max = kernel::limit_in(v.pids_cgroup / "pids.max");
      v.in_pids_cgroup = kernel::lists_pid(v.pids_cgroup / "cgroup.procs", pid);
    }
  }
  for (const char* what : {"cpu time", "file size", "open files", "core file size", "address space"})
    v.rlimits[what] = kernel::soft_limit(pid, std::string("Max ") + what);
  return v;
}

// Processes anywhere on the host in the PID namespace `ns` (its inode).
inline int processes_in_namespace(ino_t ns) {
  int n = 0;
  for (int pid : kernel::all_pids()) n += ns != 0 && kernel::namespace_of(std::to_string(pid), "pid") == ns;
  return n;
}

// Processes left in a cgroup folder (0 when the folder is gone).
inline int processes_in_cgroup(const std::filesystem::path& dir) {
  if (dir.empty() || !std::filesystem::exists(dir)) return 0;
  std::istringstream in(kernel::read_text(dir / "cgroup.procs"));
  int n = 0;
  for (int p; in >> p;) ++n;
  return n;
}

}  // namespace torchexam::test
