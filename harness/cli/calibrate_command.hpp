// calibrate_command.hpp — `torchexam calibrate ENV TASK [--seeds N]
// [--candidate FILE]... [--write] [--local]`: grades the task's reference,
// its starter and each candidate once per seed (the task's seed, then the
// next N-1), through the grading path `grade --repeat` uses (locally, or on
// Slurm when the environment's grading.backend says so; --local forces
// here), prints each one's metric over the seeds (min, median, max) and the
// scores under the current ladder, and proposes a ladder that meets the
// rules of grading/calibration.hpp, with the evidence.
//
// --write replaces task.yaml's ladder and the comment above it
// (config/ladder_edit.hpp), keeping the rest of the file as it was; the file
// is written atomically and loaded again, and put back as it was if the
// loader refuses it. Nothing is written when no ladder meets the rules.
//
// Exit status: 0 a ladder was proposed (and written with --write); 1 no
// ladder meets the rules (the message says why); 2 usage or configuration
// error (unknown task, no reference, ...), nothing graded; 3 the harness
// failed (an internal_error grading, a write that failed).
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>
#include <vector>

namespace torchexam::cli {

class CalibrateCommand {
 public:
  explicit CalibrateCommand(CLI::App& app);
  // The exit status when `calibrate` was given, nullopt otherwise.
  std::optional<int> run();

 private:
  CLI::App* cmd_;
  std::string env_, task_;
  int seeds_ = 5;
  std::vector<std::string> candidates_;
  bool write_ = false, local_ = false;
};

}  // namespace torchexam::cli
