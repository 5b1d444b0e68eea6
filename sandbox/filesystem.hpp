// filesystem.hpp — the filesystem layer: the job sees only what it is given.
//
// Best: a mount namespace with a minimal root. A fresh tmpfs becomes `/`,
// holding read-only binds of the system (/usr/lib*, /usr/bin and the /bin,
// /lib... links — not /usr/share, where data set packages install —
// the few /etc files the dynamic loader and glibc read, /sys's CPU list),
// a private /proc for the job's PID namespace, a /dev with null, zero, full,
// random and urandom, a size-limited tmpfs at /tmp (the scratch directory),
// and, at their own absolute paths, exactly the exposed paths: read-only
// (the candidate's library, a checkpoint, the staged data) or read-write
// (the job directory). Everything else — /etc/shadow, the hidden labels,
// the daemon's socket and state, other jobs — does not exist for the job.
//
// Fallback: Landlock (ABI 1 and later) rules to the same effect on the host
// tree; the scratch directory is then <job dir>/tmp without a size limit.
// With ABI 4+ the same ruleset refuses TCP bind and connect, with ABI 6+
// abstract Unix sockets and signals to processes outside the job.
#pragma once

#include "sandbox/steps.hpp"

#include <cstdint>
#include <filesystem>
#include <vector>

namespace torchexam::sandbox {

struct Exposure {
  std::filesystem::path path;  // absolute; a file or a directory
  bool writable = false;
};

struct FilesystemView {
  std::vector<Exposure> exposed;
  uint64_t scratch_bytes = 256ull << 20;  // /tmp tmpfs size
};

// Needs CAP_SYS_ADMIN in the current user namespace; run in the worker of a
// PID namespace (it mounts that namespace's /proc). Sets TMPDIR.
Step minimal_root_step(const FilesystemView& view);

struct LandlockOptions {
  bool refuse_tcp = true;          // ABI 4+
  bool scope_outside = true;       // ABI 6+: abstract Unix sockets and signals stay inside
};
// Sets no_new_privs (Landlock needs it). Reports which ABI it used through `abi_used`.
Step landlock_step(const FilesystemView& view, const LandlockOptions& options, int* abi_used);

}  // namespace torchexam::sandbox
