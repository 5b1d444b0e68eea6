// runner.hpp — what torchexam-runner does once its sandbox is set up.
//
// Both phases report through the EventSink and end with exactly one `result`
// event; they never throw. A fault of the harness's own (an unreadable
// staged file) found before candidate code is loaded is also reported on
// the TrustedChannel, which each phase seals right before it loads the
// candidate's library or model. Every exception from the staged files, the
// candidate's code or LibTorch is caught here and becomes a verdict with its
// message. The runner reads the task only as staged by the trusted harness
// (staged_task.hpp): the spec, and the training split or the test inputs. It
// never loads the task plugin or opens the data set.
#pragma once

#include "sandbox/event_sink.hpp"
#include "sandbox/trusted_channel.hpp"

#include <cstdint>
#include <filesystem>
#include <string>

namespace torchexam::sandbox {

struct RunnerOptions {
  std::filesystem::path spec;     // staged task.json
  std::filesystem::path inputs;   // train: the training inputs; evaluate: the test inputs
  std::filesystem::path targets;  // train only: the training targets
  std::filesystem::path solution;     // candidate's shared library
  std::filesystem::path torchscript;  // evaluate only: a TorchScript model instead
  std::filesystem::path checkpoint;   // train: written; evaluate: read
  std::filesystem::path predictions;  // evaluate: written
  // evaluate, for a task that takes its test samples in order a few at a
  // time: the staged inputs, opened before the sandbox (the file is not in
  // the job's view), served by a SequenceFeeder; -1 otherwise.
  int inputs_fd = -1;
  uint64_t seed = 0;
  int threads = 1;
  double budget_s = 600;  // training budget the candidate sees
  // LibTorch's deterministic algorithms, in warn-only mode (an operation
  // without a deterministic version warns in the log instead of failing).
  bool deterministic = true;
};

// Before loading candidate code each phase pins LibTorch's thread counts
// (intra-op `threads`, inter-op 1), seeds LibTorch's generator and the C
// library's rand() with `seed`, sets the deterministic mode, and writes a
// `platform` event (events.hpp) saying what is in force.
// Returns the process exit code (0 when a result was reported).
int run_train(const RunnerOptions& o, const EventSink& sink, TrustedChannel& trusted);
int run_evaluate(const RunnerOptions& o, const EventSink& sink, TrustedChannel& trusted);

}  // namespace torchexam::sandbox
