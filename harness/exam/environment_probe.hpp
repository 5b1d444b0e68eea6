// environment_probe.hpp — whether this machine meets an exam environment's
// requirements (doctor's checks, run through VerifyFn) and its stored
// forecast, for exam/start and env/verify.
//
// The checks start processes (dpkg-query, the torch probe) and take about
// a second: the *_async calls run them on the housekeeping thread, one at a
// time, and answer on the io thread; the plain calls block.
//
// Threads: problems(), verify() and require_passed() on any thread (they
// read only what was fixed at construction); the *_async calls and busy()
// on the io thread.
// Failure: ServiceError — invalid_argument for a missing folder,
// environment_error for an environment with errors or, in
// require_passed(), a failed check (one line per check with its fix).
#pragma once

#include "config/config.hpp"
#include "doctor/check.hpp"
#include "doctor/forecast.hpp"
#include "exam/io_handoff.hpp"

#include <filesystem>
#include <functional>
#include <memory>
#include <vector>

namespace torchexam {

// env/verify: the environment checks and the stored forecast.
struct VerifyReport {
  std::filesystem::path environment;
  std::vector<doctor::CheckResult> checks;
  std::vector<doctor::Forecast> forecasts;  // from the last `torchexam doctor` run, possibly none
  bool ok = false;
  friend bool operator==(const VerifyReport&, const VerifyReport&) = default;
};

// Checks this machine against an environment (the daemon passes doctor::verify).
using VerifyFn = std::function<std::vector<doctor::CheckResult>(const config::Environment&)>;

// config::load_environment, its ConfigError turned into environment_error.
config::Environment load_exam_environment(const std::filesystem::path& dir);

class EnvironmentProbe {
 public:
  // `thread` must outlive the probe. An empty `verify` checks nothing.
  // `state_dir` holds the forecasts (empty: paths::state_dir()).
  EnvironmentProbe(WorkerThreads& thread, VerifyFn verify, std::filesystem::path state_dir);

  // The checks of `env` that did not pass (failed and warned).
  std::vector<doctor::CheckResult> problems(const config::Environment& env) const;
  void problems_async(std::shared_ptr<const config::Environment> env, Reply<std::vector<doctor::CheckResult>> then);
  // Throws environment_error when one of `problems` failed.
  static void require_passed(const std::vector<doctor::CheckResult>& problems,
                             const std::filesystem::path& environment_dir);

  // Every check of the environment in `environment` and its forecast.
  VerifyReport verify(const std::filesystem::path& environment) const;
  void verify_async(std::filesystem::path environment, Reply<VerifyReport> then);

  bool busy() const { return thread_.busy() > 0; }

 private:
  WorkerThreads& thread_;
  const VerifyFn verify_;
  const std::filesystem::path state_dir_;
};

}  // namespace torchexam
