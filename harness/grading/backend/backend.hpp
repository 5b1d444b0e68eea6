// backend.hpp — where a grading phase's sandboxed process runs.
//
// The grader (grader.hpp) decides *what* runs: the compiler in
// torchexam-sandbox (build), torchexam-runner (train, evaluate). A Backend
// decides *where*: `local` runs it as a child of this process (process.hpp);
// `slurm` (slurm/slurm_backend.hpp) hands it to a cluster scheduler as a
// batch job. Staging and scoring never go through a backend: they stay in
// the trusted process, so the hidden labels never leave it.
//
// Contract of run(): it returns when the process has ended (or was killed at
// the wall-clock deadline or by `cancel`), with the process's stdout handed
// to `on_line` line by line on the calling thread while it runs. It throws
// std::runtime_error only for the harness's own failures (cannot start the
// process, the scheduler refuses the job), with what failed and how to fix
// it. A backend is shared by every worker thread: run() is thread-safe.
#pragma once

#include "base/process.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam {

struct PhaseJob {
  ProcessSpec process;  // what to run, its wall-clock deadline and its cancel flag
  std::string phase;    // "build", "train", "evaluate": names the job for the scheduler
  int cpus = 1;               // CPUs the process uses (the scheduler reserves them)
  uint64_t memory_bytes = 0;  // the phase's memory limit (0: the backend's default)
  // Folders the process writes into. A backend that runs the job as another
  // user hands them to that user for the run and takes them back after.
  std::vector<std::filesystem::path> output_dirs;
  // While a scheduler holds the job back: its place in the queue (1 = next),
  // then 0 once it starts. Called on the calling thread; may be empty.
  std::function<void(int position)> on_queued;
  // A re-run after the daemon restarted: a backend that can (Slurm) picks up
  // the job the last daemon started for this same command, or replays its
  // outcome when it finished, instead of running it again.
  bool resume = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual ProcessResult run(const PhaseJob& job, const std::function<void(std::string_view)>& on_line) = 0;
  // Where a job's files must live for the backend to reach them (a cluster's
  // shared filesystem); empty: anywhere.
  virtual std::filesystem::path shared_dir() const { return {}; }
};

// Runs the process here, as a child (run_process).
class LocalBackend final : public Backend {
 public:
  std::string_view name() const override { return "local"; }
  ProcessResult run(const PhaseJob& job, const std::function<void(std::string_view)>& on_line) override {
    return run_process(job.process, on_line);
  }
};

// The process-wide local backend (stateless).
Backend& local_backend();

namespace config {
struct Grading;
}
// The backend an environment's `grading:` section names. One per distinct
// configuration for the life of the process (a Slurm backend keeps a poller
// thread). Throws std::runtime_error when it cannot be made.
Backend& backend_for(const config::Grading& grading);
// For a daemon that stops: every remote backend's waiting run() returns
// `cancelled` at once and leaves its job to the scheduler, for the next
// daemon to pick up (see slurm_backend.hpp). Local jobs are unaffected.
void detach_remote_jobs();

}  // namespace torchexam
