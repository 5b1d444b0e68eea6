#include "sandbox/seccomp_filter.hpp"

#include <sched.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <memory>

namespace torchexam::sandbox {

namespace {

constexpr const char* kStep = "seccomp";

// Killed on sight: escape, spying, kernel attack surface.
constexpr const char* kDenied[] = {
    "ptrace", "process_vm_readv", "process_vm_writev", "kcmp", "pidfd_getfd",
    "mount", "umount2", "pivot_root", "chroot", "move_mount", "open_tree", "fsopen", "fsconfig", "fsmount",
    "fspick", "mount_setattr",
    "unshare", "setns",
    "bpf", "perf_event_open", "userfaultfd",
    "keyctl", "add_key", "request_key",
    "io_uring_setup", "io_uring_enter", "io_uring_register",
    "init_module", "finit_module", "delete_module", "kexec_load", "kexec_file_load",
    "reboot", "swapon", "swapoff", "acct", "quotactl", "quotactl_fd",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname",
    "open_by_handle_at", "name_to_handle_at", "lookup_dcookie", "vhangup", "syslog",
    "iopl", "ioperm", "personality",
    "landlock_create_ruleset", "landlock_add_rule",  // nothing to gain but confusion; restrict_self stays harmless
};

constexpr uint64_t kNamespaceFlags[] = {CLONE_NEWNS,  CLONE_NEWUTS, CLONE_NEWIPC,   CLONE_NEWUSER,
                                        CLONE_NEWPID, CLONE_NEWNET, CLONE_NEWCGROUP};

struct Release {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};

}  // namespace

Step seccomp_step(const SeccompOptions& options) {
  return {kStep, [options]() -> std::optional<StepError> {
            if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return StepError{kStep, errno, "prctl(NO_NEW_PRIVS)"};
            std::unique_ptr<void, Release> ctx(seccomp_init(SCMP_ACT_ALLOW));
            if (!ctx) return StepError{kStep, 0, "seccomp_init failed"};
            // Foreign architectures (x32 on x86_64) are killed by the default
            // bad-architecture action: only the native one is in the filter.
            seccomp_attr_set(ctx.get(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
            auto add = [&](uint32_t action, int nr, unsigned count, const scmp_arg_cmp* args,
                           const char* name) -> std::optional<StepError> {
              int rc = seccomp_rule_add_array(ctx.get(), action, nr, count, args);
              if (rc != 0 && rc != -EEXIST) return StepError{kStep, -rc, std::string("rule for ") + name};
              return std::nullopt;
            };
            for (const char* name : kDenied) {
              const int nr = seccomp_syscall_resolve_name(name);
              if (nr == __NR_SCMP_ERROR) continue;  // not on this kernel/architecture
              if (auto err = add(SCMP_ACT_KILL_PROCESS, nr, 0, nullptr, name)) return err;
            }
            // clone with any namespace flag: killed. clone3 passes its flags in
            // memory seccomp cannot read: ENOSYS, and glibc falls back to clone.
            for (uint64_t flag : kNamespaceFlags) {
              const scmp_arg_cmp has = SCMP_A0(SCMP_CMP_MASKED_EQ, flag, flag);
              if (auto err = add(SCMP_ACT_KILL_PROCESS, SCMP_SYS(clone), 1, &has, "clone")) return err;
            }
            if (auto err = add(SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0, nullptr, "clone3")) return err;
            if (options.refuse_network) {
              // No network namespace: only local (AF_UNIX) sockets.
              const scmp_arg_cmp not_unix = SCMP_A0(SCMP_CMP_NE, AF_UNIX);
              if (auto err = add(SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socket), 1, &not_unix, "socket")) return err;
              if (auto err = add(SCMP_ACT_ERRNO(EACCES), SCMP_SYS(socketpair), 1, &not_unix, "socketpair")) return err;
            }
            if (int rc = seccomp_load(ctx.get()); rc != 0) return StepError{kStep, -rc, "seccomp_load"};
            return std::nullopt;
          }};
}

}  // namespace torchexam::sandbox
