// doctor/forecast.hpp — the training-time forecast: a short micro-benchmark
// of each task's reference solution through the real, sandboxed runner.
//
// For each task with a `reference:`, the reference is compiled (cached like
// any solution) and trained by torchexam-runner with the task's plugin,
// data, threads, seed, memory limit and budget. After `measure_s` seconds of
// training (progress events carry samples/s, elapsed and the ETA of the
// planned epochs) the run is cancelled; a reference that finishes earlier
// gives its real time. The forecast is elapsed + ETA: what the full
// reference training needs, to compare with the task's budget and the
// exam's duration.
//
// Measurements are stored as JSON in <state dir>/forecast/<environment
// name>.json, so the daemon can use them for ETAs (`env/verify` returns
// them). Failures become a Forecast with `error` set; nothing throws.
// Blocking; one task at a time (it measures the machine).
#pragma once

#include "base/process.hpp"
#include "config/config.hpp"
#include "doctor/check.hpp"

#include <boost/json/value.hpp>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::doctor {

struct Forecast {
  std::string task;
  double samples_per_s = 0;  // measured training throughput
  double reference_s = 0;    // forecast training time of the reference (elapsed + ETA)
  double measured_s = 0;     // seconds of training actually measured
  bool finished = false;     // the reference finished within the measurement
  double budget_s = 0;       // the task's time_budget
  double exam_s = 0;         // the environment's duration
  int threads = 0;
  int64_t measured_at_ms = 0;  // Unix time
  std::string error;           // why there is no forecast ("" when there is)
  // How busy the machine was: the 1-minute load average when the
  // measurement began (before our own runner), and the share of CPU time
  // stolen by the hypervisor during it. busy() says whether the figure is
  // pessimistic.
  double load_before = 0;
  double steal = 0;  // 0..1
  int cpus = 0;
  bool busy() const { return cpus > 0 && (load_before > 0.75 * cpus || steal > 0.05); }
  friend bool operator==(const Forecast&, const Forecast&) = default;
};

// What the machine is doing now, for a forecast's load fields.
struct MachineSample {
  double load1 = 0;
  unsigned long long total = 0, steal = 0;  // /proc/stat's cpu line, in ticks
};
MachineSample sample_machine();

struct ForecastOptions {
  double measure_s = 5;                         // seconds of training per task
  std::filesystem::path cache_dir;              // build cache
  std::filesystem::path work_dir;               // runner job folders (removed afterwards)
  std::function<void(const std::string&)> say;  // progress lines; may be empty
  ProcessLauncher* launcher = nullptr;          // the compiler and the runner; nullptr: system_launcher()
};

Forecast forecast_task(const config::Environment& env, const config::TaskConfig& task, const ForecastOptions& o);

// ok: fits the budget; warn: over the budget (training would stop early)
// or no reference; fail: the reference does not build or train.
CheckResult check_forecast(const Forecast& f);
// "task fashion_mnist: 1200 samples/s on 2 thread(s); reference needs about 70 s of its 10 min budget",
// plus "; the machine was busy while measuring (load 3.1 on 2 CPUs)" when it was.
std::string describe(const Forecast& f);

// Both ways (json.cpp): every field but `task` may be absent (0); `busy` is
// written for readers and never read back. A wrong shape is a
// json_shape::ShapeError naming the field.
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Forecast& f);
Forecast tag_invoke(boost::json::value_to_tag<Forecast>, const boost::json::value& v);

std::filesystem::path forecast_file(const std::filesystem::path& state_dir, const std::string& environment);
// Writes atomically (temporary file, rename); throws std::runtime_error.
void store_forecasts(const std::filesystem::path& file, const std::vector<Forecast>& forecasts);
// Empty when the file is missing or unreadable; an entry of the wrong shape is skipped.
std::vector<Forecast> load_forecasts(const std::filesystem::path& file);

}  // namespace torchexam::doctor
