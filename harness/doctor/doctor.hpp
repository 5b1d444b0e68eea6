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

// A forecast with its verdict (check_forecast), as the report lists it: the
// forecast's fields, then its `status`, `found` and `fix` like every check.
struct JudgedForecast {
  Forecast forecast;
  CheckResult check;
  friend bool operator==(const JudgedForecast&, const JudgedForecast&) = default;
};

// What `torchexam doctor --json` prints: {"environment", "ok", "checks":
// [...], "forecasts": [...]} (docs/environment-yaml.md).
struct Report {
  std::string environment;  // the environment's folder
  bool ok = false;          // no check is `fail`
  std::vector<CheckResult> checks;
  std::vector<JudgedForecast> forecasts;
  friend bool operator==(const Report&, const Report&) = default;
};

// The report of `env`, each forecast judged by check_forecast().
Report make_report(const config::Environment& env, std::vector<CheckResult> checks,
                   const std::vector<Forecast>& forecasts);

// Written once, as one object (json.cpp); every string as valid UTF-8.
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const JudgedForecast& f);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Report& r);

}  // namespace torchexam::doctor
