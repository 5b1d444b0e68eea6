// doctor/doctor.hpp — runs every check of checks.hpp for one environment:
// what `torchexam doctor`, the daemon's `env/verify` and `exam/start` share.
//
// verify() gathers the facts (probes) and runs the checks in a fixed order:
// toolchain (compiler, LibTorch version, ABI, a tensor op in a fresh process,
// CUDA, CMake), the plugin of each task, each data set, then the machine
// (BLAS, state/cache/runtime folders, disk, memory, CPU, sandbox floor,
// daemon). It takes a few seconds (it hashes the data sets) and never
// throws: a check that cannot run reports fail with the reason. The
// forecast is separate (forecast.hpp): it takes about 5 s per task.
#pragma once

#include "base/process.hpp"
#include "config/config.hpp"
#include "doctor/check.hpp"
#include "doctor/forecast.hpp"

#include <boost/json/value.hpp>

#include <filesystem>
#include <vector>

namespace torchexam::doctor {

struct VerifyOptions {
  bool check_daemon = true;  // false inside the daemon itself
  ProcessLauncher* launcher = nullptr;  // runs the probes' commands; nullptr: system_launcher()
};

std::vector<CheckResult> verify(const config::Environment& env, const VerifyOptions& o = {});

// torchexam-torch-probe: $TORCHEXAM_TORCH_PROBE, else in paths::helper_dir().
std::filesystem::path torch_probe_path();

// {"environment", "ok", "checks": [...], "forecasts": [...]}
boost::json::value report_json(const config::Environment& env, const std::vector<CheckResult>& checks,
                               const std::vector<Forecast>& forecasts);

}  // namespace torchexam::doctor
