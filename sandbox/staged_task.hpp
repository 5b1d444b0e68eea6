// staged_task.hpp — the layout of a staged task directory and its task.json,
// shared by the trusted stager (harness/grading/staging) that writes it and the
// sandboxed runner that reads it.
//
//   <dir>/task.json            what describe() and evaluation() said, counts
//   <dir>/train/inputs.arr     the training split's inputs   (array_file.hpp)
//   <dir>/train/targets.arr    the training split's targets
//   <dir>/evaluate/inputs.arr  the hidden test inputs — never their labels
//
// The runner reads only these files; it never opens the data set or the task
// plugin. read_task_spec() treats the file as untrusted input and throws
// StagedTaskError naming the file and the field on anything malformed.
//
// task.json format 2 adds "evaluation" (required there). A format-1 file,
// written before it existed, reads as the default EvaluationPolicy: any
// batching, any order. A runner that reads only format 1 refuses format 2
// instead of ignoring a policy it does not know.
#pragma once

#include <torchexam/plugin_abi.h>

#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace torchexam::sandbox {

class StagedTaskError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

namespace staged {
inline constexpr const char* kSpec = "task.json";
inline constexpr const char* kTrainInputs = "train/inputs.arr";
inline constexpr const char* kTrainTargets = "train/targets.arr";
inline constexpr const char* kEvaluateInputs = "evaluate/inputs.arr";
}  // namespace staged

// How the runner may present the test inputs to the model's forward() (the
// plugin's evaluation(), plugin_abi.h). The default allows anything.
struct EvaluationPolicy {
  int64_t max_batch = 0;  // most test samples per forward() call; 0: any number
  bool in_order = false;  // each sample once, in the staged order, across calls
  bool operator==(const EvaluationPolicy&) const = default;
};

EvaluationPolicy evaluation_policy_from(const torchexam_evaluation& e);

// Everything the runner used from describe() and evaluation(), plus the split
// sizes.
struct TaskSpec {
  std::string name;
  std::string title;
  torchexam_tensor_spec input{};
  torchexam_tensor_spec output{};
  torchexam_tensor_spec target{};
  std::string metric_name;
  bool higher_is_better = true;
  int64_t train_samples = 0;
  int64_t test_samples = 0;
  EvaluationPolicy evaluation;
  std::string key;  // the staging key the directory was made for
};

// Fills the describe() part from a plugin's answer.
TaskSpec task_spec_from_info(const torchexam_task_info& info);

// Writes atomically (temporary file, rename). Throws StagedTaskError.
void write_task_spec(const std::filesystem::path& path, const TaskSpec& spec);
TaskSpec read_task_spec(const std::filesystem::path& path);

}  // namespace torchexam::sandbox
