// staging.hpp — the trusted side prepares a task's data for the sandboxed
// runner, so that no process that runs candidate code ever opens the data
// set or the task plugin (DESIGN.md: hidden labels never enter such a
// process).
//
// stage_task() loads the plugin in the calling (trusted) process, calls
// describe(), evaluation() (how the runner may batch and order the test
// inputs), train_split() and test_inputs(), and writes a staged task
// directory (sandbox/staged_task.hpp):
//   task.json, train/inputs.arr, train/targets.arr, evaluate/inputs.arr
// The hidden test labels are never written: only score(), in the trusted
// harness, reads them.
//
// Cache: <cache>/staged/<key>/, where the key is the SHA-256 of the plugin
// file's bytes, every plugin option, and a fingerprint of the data: the
// environment's sha256 pins when the data set is the installed one, else the
// content (tree_sha256) of the folder a `data_dir` option names. A plugin's
// built-in default data folder (one it reads without a data_dir option) is
// not hashed: it is taken as immutable.
// An entry is built in a temporary folder beside it and renamed into place,
// so a reader sees a complete entry or none; concurrent stagers of the same
// key both succeed and one entry survives. Entries are reused across jobs.
//
// Errors: PluginError from the plugin (its message names the plugin), or
// std::runtime_error for I/O; both are the harness's own (internal_error).
// Threads: independent calls may run concurrently, in threads or processes.
#pragma once

#include "sandbox/staged_task.hpp"

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

namespace torchexam {

struct StageRequest {
  std::filesystem::path plugin;
  std::map<std::string, std::string> options;  // the options the plugin is created with
  std::filesystem::path cache_dir;
  // The environment's sha256 pins of the data set behind options["data_dir"]
  // (one per item, in order), when that folder is the installed set. Empty:
  // the folder's content is hashed instead.
  std::vector<std::string> data_pins;
  // When set and true, a stager that is waiting for another one's lock gives
  // up, and one that has not begun calling the plugin does not begin:
  // StagedTask::cancelled says so.
  const std::atomic<bool>* cancel = nullptr;
};

struct StagedTask {
  std::filesystem::path dir;
  std::string key;
  bool cached = false;     // found in the cache: the plugin was not called
  bool cancelled = false;  // StageRequest::cancel stopped it: only dir and key are set, no entry made
  sandbox::TaskSpec spec;

  std::filesystem::path spec_file() const { return dir / sandbox::staged::kSpec; }
  std::filesystem::path train_inputs() const { return dir / sandbox::staged::kTrainInputs; }
  std::filesystem::path train_targets() const { return dir / sandbox::staged::kTrainTargets; }
  std::filesystem::path evaluate_inputs() const { return dir / sandbox::staged::kEvaluateInputs; }
};

// The cache key of a request (hashes the plugin file and the data).
std::string staging_key(const StageRequest& request);

// Finds or builds the staged directory. `say` gets a line per step, for
// progress ("staging fashion_mnist: training split 60000 samples").
StagedTask stage_task(const StageRequest& request, const std::function<void(const std::string&)>& say = {});

}  // namespace torchexam
