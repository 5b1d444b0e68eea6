// layers.hpp — which isolation layers this machine offers, probed at run
// time (never assumed), and the names the environment YAML's floor uses.
//
// Each probe tries the real mechanism in a short-lived child process (so the
// caller's namespaces, filters and cgroups are untouched) and reports what it
// found: available or not, and a one-line detail with the errno or the
// version seen. The runner records the layers it actually applied in every
// verdict; `torchexam doctor` compares the probe against the floor.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace torchexam::sandbox {

// Layer names, as written in environment.yaml (`sandbox: {require: [...]}`),
// verdicts and doctor output.
inline constexpr std::string_view kLayerNames[] = {
    "pid_namespace",      // tree kill: the namespace's init takes every descendant with it
    "user_namespace",     // namespaces without root
    "mount_namespace",    // a private filesystem view
    "network_namespace",  // no network at all
    "cgroup_memory",      // kernel-enforced memory limit (cgroup v2 memory.max or v1 memory)
    "cgroup_pids",        // kernel-enforced process/thread count limit
    "seccomp",            // system call filter
    "landlock",           // unprivileged filesystem access rules
    "landlock_network",   // Landlock TCP rules (ABI 4 and later)
    "rlimits",            // CPU time, file size, descriptors, address space backstop
    "unprivileged_uid",   // the job does not run as root
};

// The highest Landlock ABI the kernel offers, or -errno.
int landlock_abi();

bool is_layer_name(std::string_view name);

struct LayerProbe {
  std::string name;
  bool available = false;
  std::string detail;  // what was found: "ABI 7", "unshare(CLONE_NEWNET): Operation not permitted (errno 1)"
};

// Probes every layer in kLayerNames order. Forks; call before starting
// threads that hold locks the child might need (it only makes system calls).
std::vector<LayerProbe> probe_layers();

// TORCHEXAM_SANDBOX_DISABLE=layer1,layer2 makes those probes report
// "disabled by TORCHEXAM_SANDBOX_DISABLE" (for tests of the floor and of the
// fallbacks, and to compare the layers' costs).
bool disabled_by_environment(std::string_view layer);

}  // namespace torchexam::sandbox
