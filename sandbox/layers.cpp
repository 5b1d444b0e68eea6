#include "sandbox/layers.hpp"

#include "sandbox/cgroup.hpp"

#include <fcntl.h>
#include <linux/landlock.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>

namespace torchexam::sandbox {

namespace {

std::string errno_text(const char* what, int err) {
  return std::string(what) + ": " + std::strerror(err) + " (errno " + std::to_string(err) + ")";
}

struct Outcome {
  bool ok = false;
  std::string detail;
};

// Runs `test` in a forked child and returns what it reported through a pipe.
// The child's namespaces, filters and limits die with it.
Outcome in_child(const std::function<Outcome()>& test) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return {false, errno_text("pipe", errno)};
  pid_t pid = fork();
  if (pid < 0) {
    int err = errno;
    close(fds[0]);
    close(fds[1]);
    return {false, errno_text("fork", err)};
  }
  if (pid == 0) {
    close(fds[0]);
    Outcome o = test();
    std::string msg = (o.ok ? "1" : "0") + o.detail;
    ssize_t ignored = write(fds[1], msg.data(), msg.size());
    (void)ignored;
    _exit(0);
  }
  close(fds[1]);
  std::string msg;
  char buf[512];
  for (;;) {
    ssize_t n = read(fds[0], buf, sizeof buf);
    if (n > 0) {
      msg.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    break;
  }
  close(fds[0]);
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (msg.empty()) {
    if (WIFSIGNALED(status)) return {false, "probe killed by signal " + std::to_string(WTERMSIG(status))};
    return {false, "probe reported nothing"};
  }
  return {msg[0] == '1', msg.substr(1)};
}

Outcome probe_unshare(int flags, const char* what) {
  return in_child([&] {
    if (unshare(flags) == 0) return Outcome{true, std::string(what) + " works"};
    return Outcome{false, errno_text(what, errno)};
  });
}

// Plain (as root), else through a user namespace, as the runner enters it.
Outcome probe_namespace(int flag, const std::string& what) {
  return in_child([&] {
    if (unshare(flag) == 0) return Outcome{true, what + " works"};
    const int err = errno;
    if (unshare(CLONE_NEWUSER | flag) == 0)
      return Outcome{true, "through a user namespace (" + what + " alone: " + std::strerror(err) + ")"};
    return Outcome{false, errno_text(what.c_str(), err)};
  });
}

Outcome probe_seccomp() {
  return in_child([] {
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return Outcome{false, "seccomp_init failed"};
    int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(acct), 0);
    if (rc == 0) rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) return Outcome{false, errno_text("seccomp_load", -rc)};
    const scmp_version* v = seccomp_version();
    return Outcome{true, "filter loads (libseccomp " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
                             std::to_string(v->micro) + ")"};
  });
}

}  // namespace

int landlock_abi() {
  long abi = syscall(SYS_landlock_create_ruleset, nullptr, 0, LANDLOCK_CREATE_RULESET_VERSION);
  return abi < 0 ? -errno : static_cast<int>(abi);
}

bool disabled_by_environment(std::string_view layer) {
  const char* env = std::getenv("TORCHEXAM_SANDBOX_DISABLE");
  if (!env) return false;
  std::string_view list(env);
  while (!list.empty()) {
    size_t comma = list.find(',');
    std::string_view item = list.substr(0, comma);
    if (item == layer || item == "all") return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

bool is_layer_name(std::string_view name) {
  return std::find(std::begin(kLayerNames), std::end(kLayerNames), name) != std::end(kLayerNames);
}

std::vector<LayerProbe> probe_layers() {
  std::vector<LayerProbe> out;
  for (std::string_view name : kLayerNames) {
    LayerProbe p;
    p.name = std::string(name);
    if (disabled_by_environment(name)) {
      p.detail = "disabled by TORCHEXAM_SANDBOX_DISABLE";
      out.push_back(std::move(p));
      continue;
    }
    Outcome o;
    if (name == "pid_namespace") {
      o = probe_namespace(CLONE_NEWPID, "unshare(CLONE_NEWPID)");
    } else if (name == "user_namespace") {
      o = probe_unshare(CLONE_NEWUSER, "unshare(CLONE_NEWUSER)");
    } else if (name == "mount_namespace") {
      o = probe_namespace(CLONE_NEWNS, "unshare(CLONE_NEWNS)");
    } else if (name == "network_namespace") {
      o = probe_namespace(CLONE_NEWNET, "unshare(CLONE_NEWNET)");
    } else if (name == "cgroup_memory" || name == "cgroup_pids") {
      auto r = probe_cgroup(name == "cgroup_memory" ? CgroupController::memory : CgroupController::pids);
      o = {r.ok, r.detail};
    } else if (name == "seccomp") {
      o = probe_seccomp();
    } else if (name == "landlock" || name == "landlock_network") {
      int abi = landlock_abi();
      if (abi < 0) {
        o = {false, errno_text("landlock_create_ruleset", -abi)};
      } else if (name == "landlock") {
        o = {true, "ABI " + std::to_string(abi)};
      } else {
        o = {abi >= 4, "ABI " + std::to_string(abi) + (abi >= 4 ? "" : " (TCP rules need ABI 4)")};
      }
    } else if (name == "rlimits") {
      o = {true, "setrlimit is always available"};
    } else if (name == "unprivileged_uid") {
      o = {true, geteuid() == 0 ? "root drops to uid 65534 inside the minimal root" : "runs as uid " +
                                                                                         std::to_string(geteuid())};
    }
    p.available = o.ok;
    p.detail = o.detail;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace torchexam::sandbox
