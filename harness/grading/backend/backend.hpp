// backend.hpp — where a grading phase's sandboxed process runs.
//
// The grader (grader.hpp) decides *what* runs: the compiler in
// torchexam-sandbox (build), torchexam-runner (train, evaluate). A Backend
// decides *where*: `local` runs it as a child of this process (base/process.hpp);
// `slurm` (slurm_backend.hpp) hands it to a cluster scheduler as a
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
  ProcessSpec process;        // what to run, its wall-clock deadline and its cancel flag
  std::string phase;          // "build", "train", "evaluate": names the job for the scheduler
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

// Runs the process here, as a child, through a ProcessLauncher (which must
// outlive it).
class LocalBackend final : public Backend {
 public:
  explicit LocalBackend(ProcessLauncher& launcher) : launcher_(launcher) {}
  std::string_view name() const override { return "local"; }
  ProcessResult run(const PhaseJob& job, const std::function<void(std::string_view)>& on_line) override {
    return launcher_.run(job.process, on_line);
  }

 private:
  ProcessLauncher& launcher_;
};

namespace config {
struct Grading;
}

// The backends of one daemon or one `torchexam grade`, made by its main (or
// a test) and handed to what grades: the local one, and one per distinct
// Slurm configuration an environment names, made on first use and kept for
// the registry's life (a Slurm backend keeps a poller thread). Every backend
// runs its processes (Slurm's tools too) through `launcher`, which must
// outlive the registry. Thread-safe.
class BackendRegistry {
 public:
  explicit BackendRegistry(ProcessLauncher& launcher);
  ~BackendRegistry();
  BackendRegistry(const BackendRegistry&) = delete;
  BackendRegistry& operator=(const BackendRegistry&) = delete;

  Backend& local() { return local_; }
  // The backend an environment's `grading:` section names. Throws
  // std::runtime_error when it cannot be made.
  Backend& for_grading(const config::Grading& grading);
  // For a daemon that stops: every remote backend's waiting run() returns
  // `cancelled` at once and leaves its job to the scheduler, for the next
  // daemon to pick up (see slurm_backend.hpp). Local jobs are unaffected.
  void detach_remote_jobs();

 private:
  struct Remote;
  ProcessLauncher& launcher_;
  LocalBackend local_;
  std::unique_ptr<Remote> remote_;
};

}  // namespace torchexam
