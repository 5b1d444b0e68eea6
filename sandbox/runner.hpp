// runner.hpp — what torchexam-runner does once its sandbox is set up.
//
// Both phases report through the EventSink and end with exactly one `result`
// event; they never throw. Every exception from the plugin, the candidate's
// code or LibTorch is caught here and becomes a verdict with its message.
#pragma once

#include "event_sink.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <string>

namespace torchexam::sandbox {

struct RunnerOptions {
  std::filesystem::path plugin;
  std::map<std::string, std::string> plugin_options;
  std::filesystem::path solution;     // candidate's shared library
  std::filesystem::path torchscript;  // evaluate only: a TorchScript model instead
  std::filesystem::path checkpoint;   // train: written; evaluate: read
  std::filesystem::path predictions;  // evaluate: written
  uint64_t seed = 0;
  int threads = 1;
  double budget_s = 600;  // training budget the candidate sees
};

// Returns the process exit code (0 when a result was reported).
int run_train(const RunnerOptions& o, const EventSink& sink);
int run_evaluate(const RunnerOptions& o, const EventSink& sink);

}  // namespace torchexam::sandbox
