// sequence_feeder.hpp — evaluation for tasks whose test samples must reach
// the model a few at a time, in order (EvaluationPolicy with in_order and a
// max_batch): the staged test inputs stay in a process the candidate's code
// cannot read, which hands the worker one batch at a time and the next only
// once the predictions for the previous one have come back.
//
// Why a process of its own: in a sequence task later test inputs hold
// earlier samples' targets (a forecasting window's inputs are the weeks the
// earlier windows forecast). Batching in order stops forward() from seeing
// them, but not code that reads the staged file (its path is on the
// runner's command line) or the worker's own memory. So for such tasks the
// runner does not expose the file in the job's view; it opens it before the
// sandbox layers and gives the descriptor to the feeder, which is forked
// before candidate code runs and made non-dumpable (its memory, its
// descriptors and /proc/PID/{mem,fd} are closed to a process of the same
// uid without CAP_SYS_PTRACE, which the job never has; seccomp also refuses
// ptrace and process_vm_readv). The worker holds no copy of the inputs.
//
// Predictions: the feeder keeps each batch's answer as it arrives (an answer
// cannot be revised once the next batch was sent) and writes the
// predictions file itself at the end. A malformed answer (wrong size) ends
// the feeder without a predictions file.
//
// Threads: the worker side is used from one thread. Failures throw
// std::runtime_error with a message (the worker reports them as the run's
// result).
#pragma once

#include "sandbox/staged_task.hpp"

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <optional>
#include <vector>

namespace torchexam::sandbox {

class SequenceFeeder {
 public:
  struct Batch {
    int64_t first = 0;            // index of its first sample in the test set
    std::vector<int64_t> shape;   // [rows, ...the input's other dimensions]
    std::vector<uint8_t> bytes;   // the inputs, C order
  };

  // Forks the feeder over the staged inputs open on `inputs_fd` (closed in
  // the worker on return). Call before candidate code, and before any
  // OpenMP region has run (a fork after one hangs the child).
  SequenceFeeder(int inputs_fd, const TaskSpec& spec, const std::filesystem::path& predictions);
  ~SequenceFeeder();
  SequenceFeeder(const SequenceFeeder&) = delete;
  SequenceFeeder& operator=(const SequenceFeeder&) = delete;

  int64_t samples() const { return samples_; }
  // The next batch, or nullopt when every sample was answered.
  std::optional<Batch> next();
  // The predictions for the batch last returned by next(): rows x the
  // output's per-sample size, of the output's dtype.
  void answer(const void* data, size_t bytes);
  // Waits for the feeder to write the predictions file and end; throws when
  // it failed.
  void finish();

 private:
  pid_t pid_ = -1;
  int to_worker_ = -1;    // read end in the worker
  int from_worker_ = -1;  // write end in the worker
  int64_t samples_ = 0;
  size_t row_bytes_ = 0;
  torchexam_tensor_spec input_{};
};

}  // namespace torchexam::sandbox
