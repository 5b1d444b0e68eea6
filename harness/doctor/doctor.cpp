#include "doctor/doctor.hpp"

#include "base/build_config.hpp"
#include "base/paths.hpp"
#include "doctor/checks.hpp"
#include "grading/compiler.hpp"

#include <set>

namespace torchexam::doctor {
namespace fs = std::filesystem;

fs::path torch_probe_path() {
  if (const char* v = std::getenv("TORCHEXAM_TORCH_PROBE"); v && *v) return v;
  return paths::helper_dir() / "torchexam-torch-probe";
}

std::vector<CheckResult> verify(const config::Environment& env, const VerifyOptions& o) {
  const config::Pins& pins = env.pins;
  std::vector<CheckResult> out;
  ProcessLauncher& launcher = o.launcher ? *o.launcher : system_launcher();

  // The compiler the environment picks for candidate code (compiler.id).
  const CandidateCompiler candidate = candidate_compiler(pins.compiler_id);
  const fs::path cxx = candidate.exe;
  out.push_back(check_compiler(pins, cxx.empty() ? std::nullopt : probe_compiler(launcher, cxx), cxx));
  std::vector<std::string> flags = {"-std=" + env.compiler_std};
  flags.insert(flags.end(), env.compiler_flags.begin(), env.compiler_flags.end());
  out.push_back(check_candidate_flags(probe_candidate_flags(launcher, cxx, std::move(flags)), cxx,
                                      env.dir / "environment.yaml"));
  out.push_back(check_libtorch_version(
      pins, probe_libtorch_version(launcher, build_config::kTorchIncludeDirs, build_config::kTorchLibDir)));
  out.push_back(check_cxx11_abi(pins, build_config::kTorchCxxFlags));
  const TorchProbe probe = run_torch_probe(launcher, torch_probe_path());
  out.push_back(check_libtorch_runs(probe));
  out.push_back(check_cuda(pins, probe));
  out.push_back(check_cmake(pins, probe_cmake(launcher)));

  std::set<std::string> plugins;
  for (const auto& task : env.tasks) {
    if (!plugins.insert(task.plugin).second) continue;
    fs::path plugin;
    std::string lookup_error;
    try {
      plugin = paths::plugin(task.plugin);
    } catch (const std::exception& e) {
      lookup_error = e.what();
    }
    out.push_back(check_plugin_abi(task.id, plugin, lookup_error));
  }
  const fs::path data_root = paths::data_dir();
  for (const auto& set : env.data) out.push_back(check_data_set(set, data_root, env.dir));

  out.push_back(check_blas(probe_blas(launcher)));
  const fs::path state = paths::state_dir(), cache = paths::cache_dir(), socket = paths::socket_path();
  out.push_back(check_writable("state", state, "TORCHEXAM_STATE_DIR"));
  out.push_back(check_writable("cache", cache, "TORCHEXAM_CACHE_DIR"));
  out.push_back(check_runtime_dir(socket.parent_path()));
  out.push_back(check_disk(pins, {state, cache}));
  out.push_back(check_memory(pins, read_text_file("/proc/meminfo")));
  out.push_back(check_cpu_features(read_text_file("/proc/cpuinfo")));
  out.push_back(check_sandbox_floor(pins, sandbox::probe_layers()));
  if (o.check_daemon) out.push_back(check_daemon(socket));
  return out;
}

Report make_report(const config::Environment& env, std::vector<CheckResult> checks,
                   const std::vector<Forecast>& forecasts) {
  Report r;
  r.environment = env.dir.string();
  r.ok = passed(checks);
  r.checks = std::move(checks);
  for (const auto& f : forecasts) r.forecasts.push_back({f, check_forecast(f)});
  return r;
}

}  // namespace torchexam::doctor
