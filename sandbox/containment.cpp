#include "sandbox/containment.hpp"

#include "sandbox/events.hpp"
#include "sandbox/fd_io.hpp"
#include "sandbox/layers.hpp"
#include "sandbox/text.hpp"
#include "sandbox/trusted_channel.hpp"

#include <boost/json.hpp>

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace torchexam::sandbox {

const char* to_string(Containment c) {
  switch (c) {
    case Containment::pid_namespace: return "pid_namespace";
    case Containment::user_pid_namespace: return "user_pid_namespace";
    case Containment::process_group: return "process_group";
  }
  return "unknown";
}

namespace {

// A failure before candidate code: an internal_error result naming errno, then exit.
[[noreturn]] void setup_failed(int fd, const char* what) {
  events::Result r{Verdict::internal_error, std::string(what) + ": " + std::strerror(errno), ""};
  write_all(fd, events::to_json_line(r) + "\n");
  _exit(1);
}

bool write_file(const char* path, const std::string& text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return false;
  bool ok = write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  return ok;
}

// Fallback mode: kills what the worker left behind, i.e. the rest of our
// process group and the orphans reparented to us as subreaper.
void kill_leftovers() {
  const pid_t self = getpid();
  const pid_t group = getpgrp();
  for (int round = 0; round < 20; ++round) {
    bool found = false;
    if (DIR* d = opendir("/proc")) {
      while (dirent* e = readdir(d)) {
        const pid_t pid = static_cast<pid_t>(std::atoi(e->d_name));
        if (pid <= 0 || pid == self) continue;
        char path[64];
        std::snprintf(path, sizeof path, "/proc/%d/stat", static_cast<int>(pid));
        FILE* f = std::fopen(path, "r");
        if (!f) continue;
        char buf[512];
        const size_t n = std::fread(buf, 1, sizeof buf - 1, f);
        std::fclose(f);
        buf[n] = 0;
        const char* rest = std::strrchr(buf, ')');  // the command name may hold anything
        int ppid = 0, pgrp = 0;
        char state = 0;
        if (!rest || std::sscanf(rest + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
        if (pgrp == group || ppid == self) {
          kill(pid, SIGKILL);
          found = true;
        }
      }
      closedir(d);
    }
    while (waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    if (!found) break;
  }
}

// The worker the reaper's deadline kills (set before the timer is armed).
volatile sig_atomic_t g_worker = 0;
volatile sig_atomic_t g_deadline_hit = 0;

void on_deadline(int) {
  g_deadline_hit = 1;
  if (g_worker > 0) kill(static_cast<pid_t>(g_worker), SIGKILL);
}

// Arms a one-shot SIGALRM that kills the worker after `seconds`. A handler
// is installed, so even PID 1 of a namespace receives it.
void arm_deadline(pid_t worker, double seconds) {
  if (seconds <= 0) return;
  g_worker = worker;
  struct sigaction sa {};
  sa.sa_handler = on_deadline;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = 0;  // no SA_RESTART: wait4 returns EINTR and waits again
  sigaction(SIGALRM, &sa, nullptr);
  itimerval t{};
  t.it_value.tv_sec = static_cast<time_t>(seconds);
  t.it_value.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(t.it_value.tv_sec)) * 1e6);
  if (t.it_value.tv_sec == 0 && t.it_value.tv_usec == 0) t.it_value.tv_usec = 1;
  setitimer(ITIMER_REAL, &t, nullptr);
}

// Forks the worker, waits for it, and writes how it ended (an `exit` event
// line) to `report_fd`. Returns true in the worker (which has closed
// `report_fd`), false in the reaper once the report is written. The reaper
// closes `trusted_fd` (the worker keeps it). In fallback mode the worker
// stays in our process group, so the harness's kill of the group reaches it
// and its children.
bool reap_worker(int report_fd, bool fallback, JobCgroup* group, pid_t parent, int trusted_fd, double deadline_s) {
  pid_t worker = fork();
  if (worker < 0) {
    setup_failed(report_fd, "fork failed");
  }
  if (worker == 0) {
    close(report_fd);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(1);  // the reaper died before PDEATHSIG was set
    if (group) group->join(0);
    return true;
  }
  close(trusted_fd);
  arm_deadline(worker, deadline_s);
  int status = 0;
  rusage ru{};
  while (wait4(worker, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  const itimerval off{};
  setitimer(ITIMER_REAL, &off, nullptr);
  events::Exit e;
  e.timed_out = g_deadline_hit != 0;
  if (WIFSIGNALED(status))
    e.signal = WTERMSIG(status);
  else
    e.code = WEXITSTATUS(status);
  e.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  e.max_rss_kb = ru.ru_maxrss;
  if (fallback) kill_leftovers();
  write_all(report_fd, events::to_json_line(e) + "\n");
  return false;
}

// After the tree ended: kill what is left in the cgroup (and check that
// nothing is), read what the kernel saw, write the trusted status file and
// the `exit` event.
[[noreturn]] void finish(int event_fd, const ContainOptions& options, Containment how, JobCgroup* group,
                         const std::string& report, const std::string& fault) {
  namespace json = boost::json;
  json::object status{{"containment", to_string(how)}};
  std::optional<events::Exit> exit;
  size_t nl = report.find('\n');
  if (nl != std::string::npos) {
    std::string err;
    if (auto e = events::parse_line(std::string_view(report).substr(0, nl), &err)) {
      if (auto* x = std::get_if<events::Exit>(&*e)) exit = *x;
      if (std::get_if<events::Result>(&*e)) write_all(event_fd, report.substr(0, nl + 1));  // a set-up failure
    }
  }
  if (exit) {
    json::object x{{"cpu_s", exit->cpu_s}, {"max_rss_kb", exit->max_rss_kb}};
    if (exit->code) x["code"] = *exit->code;
    if (exit->signal) x["signal"] = *exit->signal;
    if (exit->timed_out) x["timed_out"] = true;
    status["exit"] = std::move(x);
  } else {
    status["exit"] = nullptr;
  }
  // Only the worker, before it loaded candidate code, could write this.
  if (!fault.empty()) status["harness_fault"] = bounded(to_valid_utf8(fault), TrustedChannel::kMaxFault);
  if (group) {
    group->kill_all();
    status["cgroup"] = json::object{{"memory", group->has_memory()},
                                    {"pids", group->has_pids()},
                                    {"memory_peak_bytes", group->memory_peak()},
                                    {"oom_kill", group->oom_killed()},
                                    {"pids_limit_hit", group->pids_limit_hit()},
                                    {"left_after_kill", group->member_count()}};
    group->remove();  // we end with _exit: no destructor runs
  }
  if (!options.status_file.empty()) {
    const std::string tmp = options.status_file.string() + ".tmp";
    int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd >= 0) {
      write_all(fd, json::serialize(status) + "\n");
      close(fd);
      rename(tmp.c_str(), options.status_file.c_str());
    }
  }
  if (exit) write_all(event_fd, events::to_json_line(*exit) + "\n");
  _exit(0);
}

// The supervisor: waits for init, then finishes. If it is killed itself
// (the harness killed the tree at the deadline), there is nothing to report.
[[noreturn]] void supervise(pid_t child, int report_fd, int trusted_fd, int event_fd, const ContainOptions& options,
                            Containment how, JobCgroup* group) {
  std::string report = read_to_end(report_fd);  // until init and the worker are gone
  close(report_fd);
  std::string fault = read_to_end(trusted_fd);  // its writers (init, the worker) are gone too
  close(trusted_fd);
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  finish(event_fd, options, how, group, report, fault);
}

bool enter_pid_namespace(bool with_user_ns, std::string* why) {
  const uid_t uid = getuid();
  const gid_t gid = getgid();
  int flags = CLONE_NEWPID | (with_user_ns ? CLONE_NEWUSER : 0);
  if (unshare(flags) != 0) {
    *why += std::string(with_user_ns ? "unshare(NEWUSER|NEWPID): " : "unshare(NEWPID): ") +
            std::strerror(errno) + "; ";
    return false;
  }
  if (with_user_ns) {
    // Keep the same identity inside, so file access is unchanged.
    write_file("/proc/self/setgroups", "deny");
    if (!write_file("/proc/self/uid_map", std::to_string(uid) + " " + std::to_string(uid) + " 1\n") ||
        !write_file("/proc/self/gid_map", std::to_string(gid) + " " + std::to_string(gid) + " 1\n")) {
      *why += "user namespace id maps could not be written; ";
    }
  }
  return true;
}

}  // namespace

Contained contain(int event_fd, const ContainOptions& options) {
  std::string why;
  Containment how = Containment::process_group;
  const char* forced = std::getenv("TORCHEXAM_CONTAINMENT");
  Contained out;
  // The job cgroup comes first: every process of the tree joins it.
  std::unique_ptr<JobCgroup> group;
  if (options.cgroup.memory_bytes || options.cgroup.max_pids) {
    const bool memory_off = disabled_by_environment("cgroup_memory"), pids_off = disabled_by_environment("cgroup_pids");
    CgroupLimits limits = options.cgroup;
    if (memory_off) {
      limits.memory_bytes = 0;
      out.cgroup_notes.push_back("cgroup_memory disabled by TORCHEXAM_SANDBOX_DISABLE");
    }
    if (pids_off) {
      limits.max_pids = 0;
      out.cgroup_notes.push_back("cgroup_pids disabled by TORCHEXAM_SANDBOX_DISABLE");
    }
    if (limits.memory_bytes || limits.max_pids)
      group = JobCgroup::create("torchexam-job-" + std::to_string(getpid()), limits, out.cgroup_notes);
    if (group && !group->has_memory() && !group->has_pids()) group.reset();
  }
  out.cgroup_memory = group && group->has_memory();
  out.cgroup_pids = group && group->has_pids();

  if (forced && std::string_view(forced) == "process_group")
    why = "TORCHEXAM_CONTAINMENT=process_group; ";
  else if (disabled_by_environment("pid_namespace"))
    why = "pid_namespace disabled by TORCHEXAM_SANDBOX_DISABLE; ";
  else if (enter_pid_namespace(false, &why))
    how = Containment::pid_namespace;
  else if (enter_pid_namespace(true, &why))
    how = Containment::user_pid_namespace;
  out.how = how;
  out.note = why;

  int report[2], trusted[2];
  if (pipe2(report, O_CLOEXEC) != 0 || pipe2(trusted, O_CLOEXEC) != 0) {
    setup_failed(event_fd, "pipe failed");
  }
  out.trusted_fd = trusted[1];
  const pid_t self = getpid();
  if (how != Containment::process_group) {
    // init cannot see its parent from inside the namespace (getppid() is 0):
    // it learns whether the supervisor died before PDEATHSIG was armed from
    // a pipe whose only writer is the supervisor.
    int life[2];
    if (pipe2(life, O_CLOEXEC) != 0) {
      setup_failed(event_fd, "pipe failed");
    }
    pid_t init = fork();
    if (init < 0) {
      // After unshare(NEWPID) there is no falling back: the next child
      // would become PID 1 of the namespace.
      setup_failed(event_fd, "fork into the new PID namespace failed");
    }
    if (init > 0) {
      close(report[1]);
      close(life[0]);
      close(trusted[1]);
      supervise(init, report[0], trusted[0], event_fd, options, how, group.get());
    }
    close(report[0]);
    close(life[1]);
    close(trusted[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    pollfd pf{life[0], POLLIN, 0};
    if (poll(&pf, 1, 0) != 0) _exit(1);  // hang-up: the supervisor died before PDEATHSIG was set
    close(life[0]);
    if (group) group->join(0);
    if (!reap_worker(report[1], false, nullptr, getpid(), trusted[1], options.wall_seconds)) {  // init: the worker ended and was reported
      close(report[1]);
      _exit(0);
    }
    (void)group.release();  // the supervisor owns the group; the worker must not remove it
    return out;
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  if (!reap_worker(report[1], true, group.get(), self, trusted[1], options.wall_seconds)) {  // the reaper, after the worker ended
    close(report[1]);
    std::string report_text = read_to_end(report[0]);
    finish(event_fd, options, how, group.get(), report_text, read_to_end(trusted[0]));
  }
  close(report[0]);
  close(trusted[0]);
  (void)group.release();
  return out;
}

}  // namespace torchexam::sandbox
