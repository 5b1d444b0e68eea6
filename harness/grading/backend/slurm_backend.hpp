// slurm_backend.hpp — grading phases as Slurm batch jobs.
//
// run() writes the phase's command as a batch script into
// <output_dirs[0]>/.slurm-<phase>/ (on the shared filesystem), submits it
// with the phase's limits (--cpus-per-task, --mem with a margin for the
// harness's own processes, --time rounded up to Slurm's minutes as a
// backstop), and follows it: state and queue position from one shared
// poller (`squeue --json`, `sacct -c` for jobs squeue forgot), the job's
// stdout (the runner's event stream) tailed from the shared file, the exact
// wall-clock deadline counted from the job's start and enforced with
// scancel. Slurm's final states become what a local run would say:
// TIMEOUT -> timed_out, OUT_OF_MEMORY -> memory_exceeded, NODE_FAIL and the
// like -> submitted again (at most kMaxResubmits times, never two at once).
//
// Restarts: the job id is kept in a ledger beside the script; a run() of the
// same command (same script) finds it and follows the job it names instead
// of submitting another, so a daemon restarted mid-burst picks up every job
// it had submitted. detach() makes every run() return `cancelled` without
// cancelling its job, for a daemon that stops and will pick them up again.
//
// Users: when this process is root, jobs run as `user` (Slurm jobs must not
// run as root); the output folders are handed to that user for the run and
// taken back after, so nothing the job wrote stays writable by it.
#pragma once

#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/backend/slurm_cli.hpp"

#include <atomic>
#include <memory>

namespace torchexam::slurm {

class Monitor;

class SlurmBackend final : public Backend {
 public:
  static constexpr int kMaxResubmits = 3;
  // Slurm's tools run through `launcher`, which must outlive the backend.
  SlurmBackend(config::Grading::Slurm cfg, ProcessLauncher& launcher);
  ~SlurmBackend() override;
  std::string_view name() const override { return "slurm"; }
  ProcessResult run(const PhaseJob& job, const std::function<void(std::string_view)>& on_line) override;
  std::filesystem::path shared_dir() const override { return cfg_.shared_dir; }
  void detach() { detached_ = true; }
  const config::Grading::Slurm& config() const { return cfg_; }

 private:
  config::Grading::Slurm cfg_;
  Tools tools_;
  std::unique_ptr<Monitor> monitor_;
  std::atomic<bool> detached_{false};
};

// The batch script that runs `spec` and leaves its exit status in `exit_file`
// (a number; 128+N for signal N) and its stdout in `stdout_file`.
std::string batch_script(const ProcessSpec& spec, const std::filesystem::path& stdout_file,
                         const std::filesystem::path& exit_file);

}  // namespace torchexam::slurm
