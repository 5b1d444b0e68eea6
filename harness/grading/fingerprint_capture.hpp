// fingerprint_capture.hpp — puts a grading's Fingerprint (fingerprint.hpp)
// together from what each side knows.
//
// The trusted side (the grader) knows the harness version, the source, the
// seed, the compiler's identity and flags, the plugin file, the task
// definition, the data set and the sandbox layers the runner reported. What
// only the process that runs LibTorch can see (its build, the BLAS library
// mapped into it, the thread count and deterministic mode in force) comes
// from the runner's `platform` event (sandbox/events.hpp); without one (a
// grading that stopped before a runner started) those fields stay empty.
//
// Costly facts go through FingerprintProbes, which caches them: a file's
// sha256 is computed once per path, size and modification time. Data sets
// are not hashed at grading time when the task reads the installed set: its
// sha256 pins from environment.yaml stand for it (verified by `torchexam
// doctor` and `torchexam data --check`, and by staging's cache key).
//
// Threads: capture_fingerprint() may run on several threads at once with
// the same probes (system_fingerprint_probes() locks its cache). Failure: a
// probe that throws leaves its field empty and says why in `problems`;
// capture never throws.
#pragma once

#include "config/config.hpp"
#include "grading/fingerprint.hpp"
#include "sandbox/events.hpp"

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace torchexam {

class FingerprintProbes {
 public:
  virtual ~FingerprintProbes() = default;
  virtual std::string harness_version() const = 0;
  // sha256 (hex) of a file's bytes. Throws std::runtime_error when unreadable.
  virtual std::string file_sha256(const std::filesystem::path& file) = 0;
  // data_sets::tree_sha256 of a folder (a data_dir that is not the installed set).
  virtual std::string tree_sha256(const std::filesystem::path& dir) = 0;
};

// The real probes: build_config's version, files hashed with a cache keyed
// by path, size and mtime (process-wide, locked).
FingerprintProbes& system_fingerprint_probes();

struct FingerprintInputs {
  const config::Environment* environment = nullptr;
  const config::TaskConfig* task = nullptr;
  std::filesystem::path source;  // solution.cpp or model.pt
  std::filesystem::path plugin;  // the task plugin's file
  std::map<std::string, std::string> options;  // the plugin options in force (extra options merged)
  // The sha256 pins of the data set behind options["data_dir"] when that is
  // the installed set (staging.hpp StageRequest::data_pins); empty: the
  // folder, if any, is hashed.
  std::vector<std::string> data_pins;
  uint64_t seed = 0;
  int threads = 0;          // asked for; the runner's report wins
  double budget_s = 0;      // in force (--budget, else the task's)
  bool deterministic = false;  // asked for; the runner's report wins
  std::string compiler_identity;  // Compiler::identity(), "" for a TorchScript model (no build)
  std::vector<std::string> compiler_flags;  // codegen_flags()
  std::optional<events::Platform> platform;  // the runner's report
  std::vector<std::string> sandbox_layers;
};

// "g++ (Debian 12.2.0-14) 12.2.0" -> {"GNU", "12.2.0"}; "Debian clang version
// 14.0.6" -> {"Clang", "14.0.6"}; another compiler: its first word and last.
CompilerId parse_compiler_identity(const std::string& version_line);

// The flags that decide the code a solution compiles to: -std=, the
// environment's flags and LibTorch's (not include paths or diagnostics
// options).
std::vector<std::string> codegen_flags(const std::string& standard, const std::vector<std::string>& env_flags);

// The task definition's parts and its sha256, over a canonical form: task
// id, plugin, metric, ladder, direction, budget, seed, memory limit and the
// plugin options except data_dir.
TaskDefinition task_definition(const config::TaskConfig& task, double budget_s,
                               const std::map<std::string, std::string>& options);
std::string task_sha256(const config::TaskConfig& task, const TaskDefinition& definition, uint64_t seed);

// The sha256 one data set is recorded by: a single item's pin, else the
// sha256 of its pins' manifest ("<sha256>  <path>\n" per item, in order).
std::string data_set_sha256(const config::DataSet& set);

Fingerprint capture_fingerprint(const FingerprintInputs& in, FingerprintProbes& probes,
                                std::vector<std::string>* problems = nullptr);

}  // namespace torchexam
