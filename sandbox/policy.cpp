#include "sandbox/policy.hpp"

#include "sandbox/identity.hpp"
#include "sandbox/layers.hpp"
#include "sandbox/seccomp_filter.hpp"

#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace torchexam::sandbox {

namespace {
// RLIMIT_AS when a cgroup holds the memory: only against runaway address
// space, far above any honest job (LibTorch needs ~3x its resident size, and
// reserving without touching must not be punished).
constexpr rlim_t kAddressSpaceBackstop = rlim_t{1} << 40;  // 1 TiB
}  // namespace

LayerReport apply_layers(const JobPolicy& p) {
  LayerReport r;
  auto note = [&](const std::string& layer, const StepError& e) { r.notes.push_back(layer + ": " + e.message()); };

  // Network.
  bool netns = false;
  if (disabled_by_environment("network_namespace")) {
    r.notes.push_back("network_namespace: disabled by TORCHEXAM_SANDBOX_DISABLE");
  } else if (unshare(CLONE_NEWNET) == 0) {
    netns = true;
    r.layers.push_back("network_namespace");
  } else {
    r.notes.push_back(std::string("network_namespace: unshare(CLONE_NEWNET): ") + std::strerror(errno));
  }

  // Filesystem.
  bool mounted = false;
  if (disabled_by_environment("mount_namespace")) {
    r.notes.push_back("mount_namespace: disabled by TORCHEXAM_SANDBOX_DISABLE");
  } else if (auto err = minimal_root_step(p.view).run()) {
    note("mount_namespace", *err);
  } else {
    mounted = true;
    r.layers.push_back("mount_namespace");
  }
  bool landlocked = false;
  if (!mounted || !netns) {
    // Landlock covers the filesystem when the mount namespace failed, and
    // TCP when the network namespace did.
    int abi = 0;
    FilesystemView view = p.view;
    if (mounted) view.exposed.push_back({"/", true});  // the minimal root already holds the files
    if (!mounted) {
      // The scratch directory without a tmpfs: inside the job directory.
      const auto tmp = p.workdir / "tmp";
      std::error_code ec;
      std::filesystem::create_directories(tmp, ec);
      setenv("TMPDIR", tmp.c_str(), 1);
    }
    if (disabled_by_environment("landlock")) {
      r.notes.push_back("landlock: disabled by TORCHEXAM_SANDBOX_DISABLE");
    } else if (auto err = landlock_step(view, {!netns && !disabled_by_environment("landlock_network"), true}, &abi)
                              .run()) {
      note("landlock", *err);
    } else {
      landlocked = true;
      r.layers.push_back("landlock");
      if (!netns && abi >= 4 && !disabled_by_environment("landlock_network")) r.layers.push_back("landlock_network");
    }
  }

  // Limits.
  Limits limits = p.limits;
  if (p.memory_cgroup)
    limits.address_space = std::max<rlim_t>(kAddressSpaceBackstop, p.memory_bytes);
  else if (p.memory_bytes)
    limits.address_space = p.memory_bytes;
  std::vector<Step> steps = limit_steps(limits);
  steps.push_back(enter_workdir(p.workdir));
  if (!p.output_log.empty()) steps.push_back(redirect_output(p.output_log));
  if (auto err = run_steps(steps)) {
    r.error = err;
    return r;
  }
  r.layers.push_back("rlimits");

  // Identity: an unprivileged uid only where the job can still reach its
  // files (the minimal root makes every exposed path traversable).
  std::vector<std::filesystem::path> writable;
  for (const auto& e : p.view.exposed)
    if (e.writable) writable.push_back(e.path);
  if (geteuid() == 0 && !mounted) {
    r.notes.push_back("identity: stays root (without capabilities): no minimal root to make its files reachable");
    writable.clear();
  }
  if (auto err = drop_privileges_step(Identity{}, geteuid() == 0 && mounted ? writable
                                                                             : std::vector<std::filesystem::path>{})
                     .run()) {
    if (geteuid() == 0 && mounted) {
      r.error = err;  // root with a minimal root must be able to drop
      return r;
    }
    note("identity", *err);
  } else {
    if (geteuid() != 0) r.layers.push_back("unprivileged_uid");
  }
  if (auto err = clean_environment_step(p.workdir).run()) {
    r.error = err;
    return r;
  }

  // System calls, last.
  if (disabled_by_environment("seccomp")) {
    r.notes.push_back("seccomp: disabled by TORCHEXAM_SANDBOX_DISABLE");
  } else if (auto err = seccomp_step({!netns}).run()) {
    note("seccomp", *err);
  } else {
    r.layers.push_back("seccomp");
  }
  (void)landlocked;
  return r;
}

}  // namespace torchexam::sandbox
