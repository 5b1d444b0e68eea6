// runner_launch.hpp — start torchexam-runner for one phase and turn what
// happened into a verdict.
//
// The trust boundary: everything the job's processes write (event lines,
// files, their exit codes) is evidence about the candidate, never about the
// harness. Event lines are parsed as hostile input (malformed ones are logged
// and skipped). Only the trusted side can produce internal_error: the
// supervisor's status file (its `harness_fault`, written from the runner's
// trusted channel before candidate code was loaded; a status file that does
// not read is internal_error naming the file and the field), the runner
// failing before it contained the job, and the harness's own I/O. A `result` event
// claiming internal_error is the solution's runtime_error. The verdict comes
// from, in order of precedence: the deadline (the harness's, or the
// reaper's `timed_out`), what the kernel saw (memory cgroup, signals), the
// job's claimed result, its exit code.
#pragma once

#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/staging.hpp"
#include "sandbox/events.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace torchexam {

struct RunnerJob {
  enum class Phase { train, evaluate } phase = Phase::train;
  // The staged task (staging.hpp): the spec, and the training split (train)
  // or the test inputs (evaluate). The runner gets no plugin and no data dir.
  std::filesystem::path spec;
  std::filesystem::path inputs;
  std::filesystem::path targets;  // train only
  std::filesystem::path solution;     // candidate's library
  std::filesystem::path torchscript;  // evaluate: instead of solution + checkpoint
  std::filesystem::path checkpoint;
  std::filesystem::path predictions;
  std::filesystem::path workdir;  // created if missing
  uint64_t seed = 0;
  int threads = 2;
  bool deterministic = true;  // LibTorch's deterministic algorithms (warn-only), runner.hpp
  double budget_s = 600;      // the candidate's training budget
  double wall_timeout_s = 0;  // 0: budget_s + grace
  double cpu_seconds = 0;     // 0: threads * wall timeout + grace
  uint64_t memory_bytes = 0;  // memory limit (a cgroup, else RLIMIT_AS), 0: none
  uint64_t max_pids = 512;    // processes + threads (a pids cgroup), 0: none
  std::vector<std::filesystem::path> expose;  // more read-only paths the job may see
  const std::atomic<bool>* cancel = nullptr;  // see ProcessSpec::cancel
  std::function<void(int position)> on_queued;  // see PhaseJob::on_queued
  bool resume = false;                          // see PhaseJob::resume
};

// The limits a phase ran under, as reported with its verdict.
struct AppliedLimits {
  double wall_s = 0;
  double cpu_s = 0;
  uint64_t memory_bytes = 0;
  uint64_t max_pids = 0;
  friend bool operator==(const AppliedLimits&, const AppliedLimits&) = default;
};

// The sandbox a phase ran in, as the runner reported it (its `sandbox`
// event) with the limits the harness gave it. A phase's outcome and a
// grading's result (grader.hpp) both carry one.
struct SandboxReport {
  std::vector<std::string> layers;  // the isolation layers that were applied
  std::vector<std::string> notes;   // why any was weaker than asked
  AppliedLimits limits;
  friend bool operator==(const SandboxReport&, const SandboxReport&) = default;
};

// What a phase's job used, from the supervisor's status file.
struct ResourceUse {
  double cpu_s = 0;
  long long max_rss_kb = 0;
  uint64_t peak_memory_bytes = 0;  // of the whole job (cgroup), at least max_rss_kb * 1024
  friend bool operator==(const ResourceUse&, const ResourceUse&) = default;
};

struct RunnerOutcome {
  Verdict verdict = Verdict::internal_error;
  std::string message;
  std::string detail;
  double wall_s = 0;
  ResourceUse used;
  std::vector<std::string> log;  // log events, in order
  SandboxReport sandbox;
  bool cancelled = false;
  // The phase's first `platform` event (events.hpp): the runner writes it
  // before candidate code is loaded; later ones are ignored.
  std::optional<events::Platform> platform;
};

// What is known when a phase ended; decide_verdict() picks the verdict of
// highest precedence (see precedence() in verdict.hpp).
struct PhaseEvidence {
  bool timed_out = false;  // the harness's own deadline
  // The supervisor's status file was read: the job was contained and
  // candidate code may have run. When false, the runner ended before (or
  // without) its supervisor's report, and runner_exit says how.
  bool contained = true;
  std::optional<std::string> harness_fault;  // trusted: from the status file
  std::optional<events::Result> result;      // the job's claim (candidate code can write it too)
  std::optional<events::Exit> exit;          // the reaper's report, from the status file
  bool oom_kill = false;                     // the memory cgroup killed something
  bool pids_limit_hit = false;
  double cpu_limit_s = 0;
  std::optional<events::Exit> runner_exit;  // the runner process itself (when not contained)
};
struct Decision {
  Verdict verdict = Verdict::internal_error;
  std::string message;
  std::string detail;
};
// `phase` names the phase in messages ("training", "evaluation").
// nullopt when there is no evidence at all (the runner died without a word).
std::optional<Decision> decide_verdict(const PhaseEvidence& e, const std::string& phase);

// Grace on top of the training budget for start-up, loading and saving:
// a tenth of the budget, at least 5 s and at most 30 s.
double runner_grace(double budget_s);

// The environment the runner starts with: thread count for OpenMP and the
// allocator tunables that stop glibc from trimming and page-faulting on every
// training step (see docs/benchmarks.md), and libgomp's spin count at 10000
// (GOMP_SPINCOUNT) unless GOMP_SPINCOUNT or OMP_WAIT_POLICY is set in this
// process's environment: with libgomp's default (300000) a 2-thread training
// beside one busy process ran 4x slower than with 10000, which costs about 3%
// on an idle machine (docs/benchmarks.md, "The OpenMP spin").
std::map<std::string, std::string> runner_environment(int threads);

// The training phase of `task` on `staged`'s training split with the
// candidate's `library`, in `workdir` (its checkpoint at
// workdir/checkpoint.pt), under the task's seed and memory limit; the grader
// and the doctor's forecast set what else they need (cancel, timeouts).
RunnerJob training_job(const StagedTask& staged, const config::TaskConfig& task, const std::filesystem::path& library,
                       const std::filesystem::path& workdir, int threads, double budget_s);

// Runs the phase through `backend` (here, or as a cluster job); the verdict
// is decided the same way for both.
RunnerOutcome launch_runner(const RunnerJob& job, const std::function<void(const events::Event&)>& on_event,
                            Backend& backend);

}  // namespace torchexam
