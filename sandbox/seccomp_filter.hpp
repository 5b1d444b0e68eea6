// seccomp_filter.hpp — the system-call layer: a deny-list that kills the
// whole process (SIGSYS, verdict `forbidden`) on calls an exam job has no use
// for and that would let it escape or spy: ptrace and process_vm_*, mount
// and namespace calls (unshare, setns, namespace flags of clone; clone3,
// whose flags seccomp cannot read, answers ENOSYS so glibc falls back to
// clone), bpf, perf_event_open, keyctl, io_uring, userfaultfd, module and
// reboot calls, and any system call of a foreign architecture (x32, i386).
//
// A deny-list, not an allow-list: LibTorch, OpenMP and OpenBLAS make many
// calls across versions, and an allow-list would kill honest jobs after a
// library update. LibTorch opens an AF_UNIX socket (nscd) at start, so
// sockets are not refused here unless `refuse_network` is set (the fallback
// when no network namespace could be made: every family but AF_UNIX gets
// EACCES).
#pragma once

#include "sandbox/steps.hpp"

namespace torchexam::sandbox {

struct SeccompOptions {
  bool refuse_network = false;
};

// Sets no_new_privs and loads the filter. Last step before candidate code:
// the filter also applies to the runner from then on.
Step seccomp_step(const SeccompOptions& options);

}  // namespace torchexam::sandbox
