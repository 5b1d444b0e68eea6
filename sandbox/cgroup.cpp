#include "sandbox/cgroup.hpp"

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>
#include <thread>

namespace torchexam::sandbox {

namespace fs = std::filesystem;

namespace {

const char* controller_name(CgroupController c) { return c == CgroupController::memory ? "memory" : "pids"; }

struct Mount {
  fs::path point;
  bool v2 = false;
  std::string options;  // super options of a v1 mount: "rw,memory"
};

std::vector<Mount> cgroup_mounts() {
  std::vector<Mount> out;
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    // ID PARENT MAJ:MIN ROOT POINT OPTS [optional...] - TYPE SOURCE SUPER
    size_t dash = line.find(" - ");
    if (dash == std::string::npos) continue;
    std::istringstream head(line.substr(0, dash)), tail(line.substr(dash + 3));
    std::string id, parent, dev, root, point, type, source, super;
    head >> id >> parent >> dev >> root >> point;
    tail >> type >> source >> super;
    if (type == "cgroup2") out.push_back({point, true, super});
    if (type == "cgroup") out.push_back({point, false, super});
  }
  return out;
}

// The process's own group path in the v1 hierarchy of `controller`, or in v2 ("0::").
std::string own_path(const std::string& controller, bool v2) {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  while (std::getline(in, line)) {
    size_t a = line.find(':'), b = line.find(':', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    std::string list = line.substr(a + 1, b - a - 1), path = line.substr(b + 1);
    if (v2 && line.compare(0, a, "0") == 0 && list.empty()) return path;
    if (!v2) {
      std::istringstream items(list);
      std::string item;
      while (std::getline(items, item, ','))
        if (item == controller) return path;
    }
  }
  return {};
}

bool has_option(const std::string& options, const std::string& name) {
  std::istringstream items(options);
  std::string item;
  while (std::getline(items, item, ','))
    if (item == name) return true;
  return false;
}

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool write_text(const fs::path& p, const std::string& value, std::string* why) {
  std::ofstream out(p);
  if (out) out << value;
  if (out) out.flush();
  if (!out) {
    if (why) *why = "cannot write " + p.string() + ": " + std::strerror(errno);
    return false;
  }
  return true;
}

struct Parent {
  fs::path dir;  // the process's own group in the hierarchy that has the controller
  bool v2 = false;
};

// Where a child group with `controller` can be made, v2 first; `why` says why not.
std::optional<Parent> parent_for(CgroupController controller, std::string& why) {
  const std::string name = controller_name(controller);
  std::vector<std::string> tried;
  for (const Mount& m : cgroup_mounts()) {
    if (!m.v2) continue;
    fs::path own = m.point / fs::path(own_path(name, true)).relative_path();
    std::istringstream controllers(read_text(own / "cgroup.controllers"));
    std::string item;
    bool offered = false;
    while (controllers >> item) offered = offered || item == name;
    if (offered) {
      // The controller must also be enabled for children.
      std::string sub = read_text(own / "cgroup.subtree_control");
      if (sub.find(name) == std::string::npos && !write_text(own / "cgroup.subtree_control", "+" + name, nullptr)) {
        tried.push_back("v2 " + own.string() + ": " + name + " not delegated to children");
        continue;
      }
      return Parent{own, true};
    }
    tried.push_back("v2 " + m.point.string() + ": no " + name + " controller");
  }
  for (const Mount& m : cgroup_mounts()) {
    if (m.v2 || !has_option(m.options, name)) continue;
    fs::path own = m.point / fs::path(own_path(name, false)).relative_path();
    if (fs::is_directory(own)) return Parent{own, false};
    tried.push_back("v1 " + own.string() + " missing");
  }
  if (tried.empty()) tried.push_back("no cgroup hierarchy with " + name);
  for (size_t i = 0; i < tried.size(); ++i) why += (i ? "; " : "") + tried[i];
  return std::nullopt;
}

std::string limit_file(CgroupController c, bool v2) {
  if (c == CgroupController::memory) return v2 ? "memory.max" : "memory.limit_in_bytes";
  return "pids.max";
}

bool remove_group(const fs::path& dir) {
  for (int i = 0; i < 50; ++i) {
    if (rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

std::vector<pid_t> members(const fs::path& dir) {
  std::vector<pid_t> out;
  std::ifstream in(dir / "cgroup.procs");
  pid_t p;
  while (in >> p) out.push_back(p);
  return out;
}

uint64_t read_number(const fs::path& p) {
  std::ifstream in(p);
  uint64_t v = 0;
  in >> v;
  return v;
}

// Value of "key N" in a flat keyed file (memory.events, memory.oom_control, pids.events).
uint64_t read_key(const fs::path& p, const std::string& key) {
  std::ifstream in(p);
  std::string k;
  uint64_t v;
  while (in >> k >> v)
    if (k == key) return v;
  return 0;
}

void kill_members(const fs::path& dir) {
  for (int pass = 0; pass < 100; ++pass) {
    auto pids = members(dir);
    if (pids.empty()) return;
    for (pid_t p : pids) kill(p, SIGKILL);
    std::this_thread::sleep_for(std::chrono::milliseconds(pass < 10 ? 1 : 10));
  }
}

// Job groups whose supervisor (the pid in the name) is gone: it was killed
// at a deadline before it could remove its group.
void sweep_stale(const fs::path& parent) {
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(parent, ec)) {
    const std::string n = e.path().filename().string();
    if (n.rfind("torchexam-job-", 0) != 0) continue;
    const pid_t pid = static_cast<pid_t>(std::atoi(n.c_str() + 14));
    if (pid > 0 && (kill(pid, 0) == 0 || errno != ESRCH)) continue;
    kill_members(e.path());
    remove_group(e.path());
  }
}

}  // namespace

CgroupProbe probe_cgroup(CgroupController controller) {
  std::string why;
  auto parent = parent_for(controller, why);
  if (!parent) return {false, why};
  fs::path probe = parent->dir / ("torchexam-probe-" + std::to_string(getpid()));
  std::error_code ec;
  fs::create_directory(probe, ec);
  if (ec) return {false, "cannot create " + probe.string() + ": " + ec.message()};
  bool ok = write_text(probe / limit_file(controller, parent->v2),
                       controller == CgroupController::memory ? "104857600" : "1024", &why);
  remove_group(probe);
  if (!ok) return {false, why};
  return {true, std::string(parent->v2 ? "v2" : "v1") + " under " + parent->dir.string()};
}

std::unique_ptr<JobCgroup> JobCgroup::create(const std::string& name, const CgroupLimits& limits,
                                             std::vector<std::string>& notes) {
  std::unique_ptr<JobCgroup> job(new JobCgroup());
  auto make = [&](CgroupController c, uint64_t value, fs::path& dir, bool& v2) {
    std::string why;
    auto parent = parent_for(c, why);
    if (!parent) {
      notes.push_back(std::string("cgroup ") + controller_name(c) + ": " + why);
      return;
    }
    fs::path d = parent->dir / name;
    sweep_stale(parent->dir);
    // A group of this name left by a supervisor that was killed (a reused
    // pid) would bring its counters (oom_kill) along: start from a new one.
    if (fs::exists(d)) {
      kill_members(d);
      remove_group(d);
    }
    std::error_code ec;
    fs::create_directory(d, ec);
    if (ec || !fs::exists(d)) {
      notes.push_back("cgroup: cannot create " + d.string() + ": " + ec.message());
      return;
    }
    if (!write_text(d / limit_file(c, parent->v2), std::to_string(value), &why)) {
      notes.push_back("cgroup: " + why);
      remove_group(d);
      return;
    }
    if (c == CgroupController::memory && !parent->v2) {
      // Count swap too where the kernel accounts it (no swap on most exam machines).
      write_text(d / "memory.memsw.limit_in_bytes", std::to_string(value), nullptr);
    }
    if (c == CgroupController::memory && parent->v2) write_text(d / "memory.swap.max", "0", nullptr);
    dir = d;
    v2 = parent->v2;
  };
  if (limits.memory_bytes) make(CgroupController::memory, limits.memory_bytes, job->memory_dir_, job->memory_v2_);
  if (limits.max_pids) make(CgroupController::pids, limits.max_pids, job->pids_dir_, job->pids_v2_);
  return job;
}

JobCgroup::~JobCgroup() { remove(); }

void JobCgroup::remove() {
  kill_all();
  if (!memory_dir_.empty() && remove_group(memory_dir_)) memory_dir_.clear();
  if (!pids_dir_.empty() && remove_group(pids_dir_)) pids_dir_.clear();
}

std::string JobCgroup::join(pid_t pid) const {
  std::string why;
  std::string value = std::to_string(pid == 0 ? getpid() : pid);
  for (const fs::path* dir : {&memory_dir_, &pids_dir_}) {
    if (dir->empty()) continue;
    if (!write_text(*dir / "cgroup.procs", value, &why)) return why;
  }
  return {};
}

uint64_t JobCgroup::memory_peak() const {
  if (memory_dir_.empty()) return 0;
  return read_number(memory_dir_ / (memory_v2_ ? "memory.peak" : "memory.max_usage_in_bytes"));
}

bool JobCgroup::oom_killed() const {
  if (memory_dir_.empty()) return false;
  if (memory_v2_) return read_key(memory_dir_ / "memory.events", "oom_kill") > 0;
  return read_key(memory_dir_ / "memory.oom_control", "oom_kill") > 0;
}

bool JobCgroup::pids_limit_hit() const {
  if (pids_dir_.empty()) return false;
  return read_key(pids_dir_ / "pids.events", "max") > 0;
}

size_t JobCgroup::member_count() const {
  size_t n = 0;
  for (const fs::path* dir : {&memory_dir_, &pids_dir_})
    if (!dir->empty()) n = std::max(n, members(*dir).size());
  return n;
}

void JobCgroup::kill_all() const {
  for (const fs::path* dir : {&memory_dir_, &pids_dir_}) {
    if (dir->empty()) continue;
    if (fs::exists(*dir / "cgroup.kill")) {
      write_text(*dir / "cgroup.kill", "1", nullptr);
      continue;
    }
    // v1: no atomic kill; SIGKILL every member until none is left (a fork
    // racing the loop joins the group and is caught on the next pass).
    kill_members(*dir);
  }
}

}  // namespace torchexam::sandbox
