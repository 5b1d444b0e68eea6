// grader.hpp — one submission, end to end: stage -> build -> train ->
// evaluate -> score (DESIGN.md steps 4-7), in the foreground. Staging
// (staging.hpp) has the plugin write the training split and the test inputs
// on the trusted side; the sandboxed runners get only those files, never the
// plugin or the data set. Scoring loads the plugin again, here.
//
// Error policy: grade() never throws for anything the candidate did; every
// outcome is a GradeResult with a verdict. The harness's own failures
// (missing runner, unwritable cache, plugin faults) become internal_error
// with the reason; nothing the job writes can (runner_launch.hpp). The
// predictions are checked here, on the trusted side, before the plugin
// scores them: a missing or malformed file is the solution's runtime_error,
// a wrong shape, dtype or row count its contract error.
//
// A training phase stopped by its time limit (timeout, cpu_limit) keeps that
// verdict, but when the solution saved a checkpoint (ctx.checkpoint()) that
// checkpoint is evaluated and scored, and the message says so. Progress is reported to the observer on the calling
// thread.
//
// Every grading that got as far as finding its task plugin carries a
// fingerprint (fingerprint_capture.hpp): what was known when it ended, the
// runner's `platform` report from the last phase that ran among them.
#pragma once

#include "config/config.hpp"
#include "grading/compiler.hpp"
#include "grading/fingerprint.hpp"
#include "grading/fingerprint_capture.hpp"
#include "grading/runner_launch.hpp"
#include "grading/staging.hpp"
#include "grading/task_diagnostics.hpp"
#include "sandbox/events.hpp"

#include <atomic>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam {

struct GradeRequest {
  const config::Environment* environment = nullptr;
  const config::TaskConfig* task = nullptr;
  std::filesystem::path source;  // solution.cpp, or a TorchScript .pt
  std::string display_name;      // how diagnostics name the source (default: its path)
  std::map<std::string, std::string> extra_options;  // merged over the task's plugin options
  int threads = 0;                 // 0: the environment's
  // LibTorch's deterministic algorithms (warn-only) in both runners; off only
  // to measure what they cost (bench/determinism.cpp).
  bool deterministic = true;
  double budget_s = 0;             // 0: the task's
  // Empty: a new folder under the state dir, held as in use (job_dirs.hpp)
  // while grade() runs; a caller that names one holds it itself.
  std::filesystem::path job_dir;
  std::filesystem::path cache_dir; // empty: paths::cache_dir()
  const std::atomic<bool>* cancel = nullptr;  // when it turns true, the running phase is killed
  // Where build, train and evaluate run: `backend` when set, else the one
  // `backends` has for the environment's `grading:` section (one of the two
  // is required: with neither, grade() returns internal_error saying so).
  // A backend with a shared folder (Slurm) gets the job folder and the cache
  // inside it: job_dir and cache_dir outside it are mapped to
  // <shared>/jobs/<hash>-<name> and <shared>/cache.
  Backend* backend = nullptr;
  BackendRegistry* backends = nullptr;
  // The compiler's own processes (its identity, the precompiled header);
  // nullptr: system_launcher().
  ProcessLauncher* launcher = nullptr;
  bool resume = false;  // a re-run after a daemon restart (see PhaseJob::resume)
  // Where the fingerprint's costly facts come from (fingerprint_capture.hpp);
  // nullptr: system_fingerprint_probes().
  FingerprintProbes* probes = nullptr;
};

struct Timings {
  double stage_s = 0;  // staging the task's data on the trusted side (staging.hpp)
  double build_s = 0;
  double train_s = 0;
  double evaluate_s = 0;
  double score_s = 0;
  double total_s = 0;
  friend bool operator==(const Timings&, const Timings&) = default;
};

// Where a phase's printed output went (the candidate's stdout and stderr).
struct OutputLog {
  std::string phase;  // "train", "evaluate"
  std::filesystem::path path;
  uint64_t bytes = 0;
  friend bool operator==(const OutputLog&, const OutputLog&) = default;
};

struct GradeResult {
  Verdict verdict = Verdict::internal_error;
  std::string backend;  // where it was graded: local, slurm
  bool cancelled = false;  // stopped through GradeRequest::cancel: no verdict applies
  int score = 0;
  std::string metric_name;
  std::optional<double> metric;
  std::string message;
  std::string detail;
  std::vector<Diagnostic> diagnostics;
  bool build_cached = false;
  bool stage_cached = false;  // the staged data was reused from the cache
  Timings timings;
  std::filesystem::path job_dir;
  std::vector<std::string> log;
  std::vector<OutputLog> output;  // the candidate's own printed output, per phase that ran
  // What the runner phases used: the training's CPU time and peak RSS, and
  // the largest peak memory of any phase (cgroup peak, else max RSS).
  ResourceUse used;
  // The layers and notes of the last phase that reported any, and the limits
  // of the first that ran (the training's, or the evaluation's alone).
  SandboxReport sandbox;
  // The task's aggregate diagnostics, when its plugin gives them and the
  // grading was scored (task_diagnostics.hpp).
  std::optional<TaskDiagnostics> task_diagnostics;
  // What the grading depended on (fingerprint.hpp); empty for a grading
  // stored before fingerprints were kept.
  std::optional<Fingerprint> fingerprint;
  friend bool operator==(const GradeResult&, const GradeResult&) = default;
};

class GradeObserver {
 public:
  virtual ~GradeObserver() = default;
  virtual void phase(std::string_view /*name*/) {}
  virtual void event(const events::Event& /*e*/) {}
  // A scheduler holds `phase` back: its place in the queue (1 = next), 0 once it runs.
  virtual void queued(std::string_view /*phase*/, int /*position*/) {}
};

GradeResult grade(const GradeRequest& request, GradeObserver& observer);

// Whether a job folder's name is one grade() makes (<YYYYmmdd-HHMMSS>-<task>-<6 hex>),
// so that `torchexam grade` prunes only its own (job_dirs.hpp).
bool is_grade_job_dir(const std::string& name);

// The task's plugin options as the runner gets them: task.yaml's `options`
// and, for a task with `data:`, data_dir=<the installed set's folder>.
// Throws std::runtime_error naming the install command when that folder is
// missing.
std::map<std::string, std::string> task_plugin_options(const config::Environment& env, const config::TaskConfig& task);

// How the trusted side stages `task` with `options` (task_plugin_options
// and any extra ones): the data set's sha256 pins stand for its folder when
// data_dir is the installed set (staging.hpp).
StageRequest task_stage_request(const config::Environment& env, const config::TaskConfig& task,
                                const std::filesystem::path& plugin, const std::map<std::string, std::string>& options,
                                const std::filesystem::path& cache_dir);

// A scored grading's message: "accuracy 0.8512 on the hidden test data: score 4/5".
std::string score_message(const std::string& metric_name, double metric, int score);

// True when `source` is a TorchScript archive (a zip with a .pt/.pth name).
bool is_torchscript(const std::filesystem::path& source);

}  // namespace torchexam
