#include "containment.hpp"

#include "events.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
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

void write_all(int fd, const std::string& s) {
  size_t off = 0;
  while (off < s.size()) {
    ssize_t n = write(fd, s.data() + off, s.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    off += static_cast<size_t>(n);
  }
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

// Forks the worker, waits for it, reports how it ended, then exits. Returns
// only in the worker. In fallback mode the worker stays in our process
// group, so the harness's kill of the group at the deadline reaches it and
// its children.
void reap_worker(int event_fd, bool fallback) {
  pid_t worker = fork();
  if (worker < 0) {
    events::Result r{Verdict::internal_error, std::string("fork failed: ") + std::strerror(errno), ""};
    write_all(event_fd, events::to_json_line(r) + "\n");
    _exit(1);
  }
  if (worker == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    return;
  }
  int status = 0;
  rusage ru{};
  while (wait4(worker, &status, 0, &ru) < 0 && errno == EINTR) {
  }
  events::Exit e;
  if (WIFSIGNALED(status))
    e.signal = WTERMSIG(status);
  else
    e.code = WEXITSTATUS(status);
  e.cpu_s = static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
            static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  e.max_rss_kb = ru.ru_maxrss;
  if (fallback) kill_leftovers();
  write_all(event_fd, events::to_json_line(e) + "\n");
  _exit(0);
}

// The supervisor: waits for init and exits. If init itself was killed (the
// harness killed the tree), there is nothing more to report.
[[noreturn]] void supervise(pid_t child) {
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
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

Contained contain(int event_fd) {
  std::string why;
  Containment how = Containment::process_group;
  const char* forced = std::getenv("TORCHEXAM_CONTAINMENT");
  if (forced && std::string_view(forced) == "process_group")
    why = "TORCHEXAM_CONTAINMENT=process_group; ";
  else if (enter_pid_namespace(false, &why))
    how = Containment::pid_namespace;
  else if (enter_pid_namespace(true, &why))
    how = Containment::user_pid_namespace;

  if (how != Containment::process_group) {
    pid_t init = fork();
    if (init < 0) {
      // After unshare(NEWPID) there is no falling back: the next child
      // would become PID 1 of the namespace.
      events::Result r{Verdict::internal_error,
                       std::string("fork into the new PID namespace failed: ") + std::strerror(errno), ""};
      write_all(event_fd, events::to_json_line(r) + "\n");
      _exit(1);
    }
    if (init > 0) supervise(init);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    reap_worker(event_fd, false);
    return {how, why};
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  reap_worker(event_fd, true);
  return {how, why};
}

}  // namespace torchexam::sandbox
