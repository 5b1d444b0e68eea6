// slurm_cli.hpp — Slurm's command-line tools as a small typed interface.
//
// The daemon talks to Slurm only through `sbatch --parsable`, `squeue
// --json`, `sacct -c` and `scancel`: unlike libslurm (tied to one release)
// and slurmrestd (JWT, refuses root), they are stable across releases. Every
// call runs under a time limit and transient failures (the controller busy
// or restarting) are retried with a back-off; what still fails throws
// SlurmError with the tool's own message.
//
// JSON from squeue differs between releases (22.05 gives plain numbers and a
// state string, 23.02+ {"set","number"} objects and a state list); the
// parser takes both. The tools run through a ProcessLauncher (base/
// process.hpp), which must outlive the Tools. Thread-safe: no state besides
// the options.
#pragma once

#include "base/process.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::slurm {

class SlurmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One job as squeue or sacct reports it.
struct JobInfo {
  int64_t id = 0;
  std::string name;
  std::string state;   // base state: PENDING, RUNNING, COMPLETED, TIMEOUT, ...
  std::string reason;  // why it waits or why it ended ("Resources", "NonZeroExitCode", ...)
  std::string partition;
  int64_t priority = 0;
  int64_t submit_time = 0;  // seconds since the epoch, 0 when unknown
  int64_t start_time = 0;
  int64_t end_time = 0;
  std::optional<int> exit_code;  // the batch script's, when known
  int restarts = 0;              // times Slurm requeued it
};

// True for the states a job never leaves (COMPLETED, FAILED, TIMEOUT,
// OUT_OF_MEMORY, CANCELLED, NODE_FAIL, BOOT_FAIL, DEADLINE, PREEMPTED).
bool is_final(std::string_view state);

// The jobs in squeue's --json output. Throws SlurmError when it is not JSON
// of the expected shape.
std::vector<JobInfo> parse_squeue_json(std::string_view text);
// One line of `sacct -c -n -P -o JobID,JobName,State,ExitCode,Start,End`.
std::optional<JobInfo> parse_sacct_line(std::string_view line);

// A batch job to submit.
struct Submission {
  std::filesystem::path script;  // a bash script (the job's command)
  std::string name;              // --job-name
  std::filesystem::path output;  // --output (the script's own stdout and stderr)
  std::string partition;         // empty: the default
  int cpus = 1;
  uint64_t memory_mib = 0;       // 0: the partition's default
  int time_minutes = 0;          // 0: the partition's default
  // --uid/--gid (only when this process is root); empty: ourselves.
  std::string uid;
  std::string gid;
  std::vector<std::string> extra_args;
};

struct ToolOptions {
  std::filesystem::path conf;  // SLURM_CONF for the tools (empty: inherited)
  double timeout_s = 30;       // per call
  int attempts = 4;            // per call, with a growing pause between them
};

class Tools {
 public:
  explicit Tools(ProcessLauncher& launcher, ToolOptions o = {});

  // sbatch --parsable; returns the job id. A retry first asks squeue whether
  // the earlier attempt went through after all (by job name), so a timeout
  // never submits a job twice.
  int64_t submit(const Submission& s) const;
  // Every job the controller still knows (finished ones until MinJobAge).
  std::vector<JobInfo> queue() const;
  // The job from the completion log (`sacct -c`), for jobs squeue forgot.
  std::optional<JobInfo> completed(int64_t id) const;
  void cancel(int64_t id) const;
  // The argument list sbatch gets for `s` (without the script), for tests and
  // for the log.
  static std::vector<std::string> sbatch_args(const Submission& s);

 private:
  struct Output {
    int exit_code = -1;
    bool timed_out = false;
    std::string out;
    std::string err;
  };
  Output run(const std::string& tool, const std::vector<std::string>& args) const;
  // run() until it succeeds or the attempts are used up; throws SlurmError.
  std::string run_retried(const std::string& tool, const std::vector<std::string>& args,
                          const char* what) const;
  ProcessLauncher& launcher_;
  ToolOptions o_;
};

}  // namespace torchexam::slurm
