#include "containment.hpp"

#include "events.hpp"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

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

// Forks the worker, waits for it, reports how it ended, then exits. Returns
// only in the worker.
void reap_worker(int event_fd, bool own_group) {
  pid_t worker = fork();
  if (worker < 0) {
    events::Result r{Verdict::internal_error, std::string("fork failed: ") + std::strerror(errno), ""};
    write_all(event_fd, events::to_json_line(r) + "\n");
    _exit(1);
  }
  if (worker == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (own_group) setpgid(0, 0);
    return;
  }
  if (own_group) setpgid(worker, worker);  // both sides, to win the race
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
  if (own_group) kill(-worker, SIGKILL);  // what the worker left in its group
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
  if (enter_pid_namespace(false, &why))
    how = Containment::pid_namespace;
  else if (enter_pid_namespace(true, &why))
    how = Containment::user_pid_namespace;

  if (how != Containment::process_group) {
    pid_t init = fork();
    if (init < 0) {
      why += std::string("fork into the namespace failed: ") + std::strerror(errno) + "; ";
      how = Containment::process_group;
    } else if (init > 0) {
      supervise(init);
    } else {
      prctl(PR_SET_PDEATHSIG, SIGKILL);
      reap_worker(event_fd, false);
      return {how, ""};
    }
  }
  prctl(PR_SET_CHILD_SUBREAPER, 1);
  reap_worker(event_fd, true);
  return {how, why};
}

}  // namespace torchexam::sandbox
