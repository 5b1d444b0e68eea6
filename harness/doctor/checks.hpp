// doctor/checks.hpp — every check `torchexam doctor` runs, each a small
// function of what it inspects (passed in, so tests can provoke every
// failure), plus the probes that gather those facts from this machine.
//
// Probes run commands (the compiler, cmake, update-alternatives, the LibTorch
// probe) through the launcher they are given, or read /proc; they never throw: a probe that cannot find out says
// so in its result. Checks are pure. Thread-safe: no shared state.
#pragma once

#include "base/process.hpp"
#include "config/config.hpp"
#include "doctor/check.hpp"
#include "sandbox/layers.hpp"

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::doctor {

// --- toolchain -------------------------------------------------------------

struct CompilerInfo {
  std::string id;       // "gcc" | "clang" | "" when unknown
  std::string version;  // "12.2.0"
  std::string banner;   // the first line of --version
};
// Runs `cxx --version`; nullopt when it does not run.
std::optional<CompilerInfo> probe_compiler(ProcessLauncher& launcher, const std::filesystem::path& cxx);
CheckResult check_compiler(const config::Pins& pins, const std::optional<CompilerInfo>& found,
                           const std::filesystem::path& cxx);

// The environment's flags for candidate code (`-std=` from compiler.std,
// then compiler.flags, as the grader passes them) tried on an empty
// translation unit: a flag the compiler does not know would otherwise
// surface as a compile error at the candidate's first submission.
struct CandidateFlagsProbe {
  std::vector<std::string> flags;
  bool accepted = false;
  std::string complaint;  // the compiler's first error line when it refused them
};
CandidateFlagsProbe probe_candidate_flags(ProcessLauncher& launcher, const std::filesystem::path& cxx,
                                          std::vector<std::string> flags);
CheckResult check_candidate_flags(const CandidateFlagsProbe& probe, const std::filesystem::path& cxx,
                                  const std::filesystem::path& environment_yaml);

struct LibTorchInfo {
  std::string version;  // "1.13.1"; "" when unknown
  std::string source;   // where it was read: "Debian package libtorch1.13 1.13.1+dfsg-4", "torch/version.h"
};
// The installed LibTorch's version: the Debian package that owns libc10.so
// in `lib_dir` (Debian's headers say 1.13.0 for 1.13.1), else torch/version.h
// in `include_dirs` (';'-separated).
LibTorchInfo probe_libtorch_version(ProcessLauncher& launcher, const std::string& include_dirs,
                                    const std::filesystem::path& lib_dir);
CheckResult check_libtorch_version(const config::Pins& pins, const LibTorchInfo& found);

// `torch_cxx_flags`: the flags LibTorch's CMake package gives (build_config::kTorchCxxFlags).
CheckResult check_cxx11_abi(const config::Pins& pins, const std::string& torch_cxx_flags);

// `cmake --version`'s version, or nullopt when cmake does not run.
std::optional<std::string> probe_cmake(ProcessLauncher& launcher);
CheckResult check_cmake(const config::Pins& pins, const std::optional<std::string>& found);

// What torchexam-torch-probe saw in a fresh process.
struct TorchProbe {
  bool ran = false;        // it ran and printed its line
  bool tensor_ok = false;  // a matrix product gave the right answer
  std::string version;     // TORCH_VERSION as compiled
  bool cuda = false;       // torch::cuda::is_available()
  std::string error;       // why it did not run, or the exception
};
TorchProbe run_torch_probe(ProcessLauncher& launcher, const std::filesystem::path& probe_exe);
CheckResult check_libtorch_runs(const TorchProbe& probe);
CheckResult check_cuda(const config::Pins& pins, const TorchProbe& probe);

// --- the environment's parts -------------------------------------------------

// Opens the task's plugin (`plugin` resolved by the caller; empty path with
// `lookup_error` when it was not found) and checks its ABI version.
CheckResult check_plugin_abi(const std::string& task, const std::filesystem::path& plugin,
                             const std::string& lookup_error = "");

// Every file of the set present with its sha256.
CheckResult check_data_set(const config::DataSet& set, const std::filesystem::path& data_root,
                           const std::filesystem::path& env_dir);

// --- the machine -------------------------------------------------------------

// The libblas.so.3 alternative in use (`update-alternatives --query`, else
// the resolved symlink); "" when none.
std::string probe_blas(ProcessLauncher& launcher);
CheckResult check_blas(const std::string& blas_library);

// Creates `dir` if needed and writes and removes a file in it.
CheckResult check_writable(const std::string& what, const std::filesystem::path& dir, const std::string& env_var);
// The daemon's socket folder: created 0700 when missing, and checked by the
// rule the daemon enforces (paths::ensure_private_dir).
CheckResult check_runtime_dir(const std::filesystem::path& dir);

// Free space for the state and cache folders against resources.disk.
CheckResult check_disk(const config::Pins& pins, const std::vector<std::filesystem::path>& dirs);
// MemAvailable from /proc/meminfo's text against resources.memory.
CheckResult check_memory(const config::Pins& pins, const std::string& meminfo);
// AVX2 and FMA in /proc/cpuinfo's flags (LibTorch's fast kernels): warn only.
CheckResult check_cpu_features(const std::string& cpuinfo);

// The probed layers against the environment's floor (sandbox.require).
CheckResult check_sandbox_floor(const config::Pins& pins, const std::vector<sandbox::LayerProbe>& layers);

// Something accepts connections on the daemon's socket: warn when not (the
// CLI starts it on demand).
CheckResult check_daemon(const std::filesystem::path& socket);

// stdout of `exe args...` (searched in PATH when it has no '/'), or nullopt
// when it cannot start, fails or times out.
std::optional<std::string> command_output(ProcessLauncher& launcher, const std::string& exe,
                                          const std::vector<std::string>& args, double timeout_s = 20);

// "4.0 GiB", "512 MiB"
std::string format_bytes(uint64_t bytes);
std::string read_text_file(const std::filesystem::path& path);  // "" when unreadable

}  // namespace torchexam::doctor
