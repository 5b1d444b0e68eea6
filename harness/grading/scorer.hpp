// scorer.hpp — the trusted side: hidden labels meet the predictions here, in
// the harness's own process, never in one that ran candidate code.
//
// The plugin scores the predictions and, when it can, gives the task's
// diagnostics with the metric (plugin_abi.h, score_with_diagnostics). Its
// diagnostics text is the plugin's own output, checked here: longer than
// kMaxDiagnosticsBytes, not JSON, or not of TaskDiagnostics' bounded shape
// (task_diagnostics.hpp), it is dropped and the reason kept in
// ScoreOutcome::diagnostics_note; a failed score_with_diagnostics is
// retried as score(). Either way the metric and score stand: a plugin's
// faulty diagnostics never become the candidate's failure.
#pragma once

#include "config/config.hpp"
#include "grading/task_diagnostics.hpp"

#include <torchexam/plugin.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace torchexam {

struct ScoreOutcome {
  double metric = 0;
  int score = 0;
  std::optional<TaskDiagnostics> diagnostics;  // when the plugin gave valid ones
  std::string diagnostics_note;                // why the plugin's diagnostics were dropped; "" when they were not
};

// The longest diagnostics text the scorer reads from a plugin (a 256-class
// confusion matrix of 7-digit counts fits).
inline constexpr std::size_t kMaxDiagnosticsBytes = 1u << 20;

// A plugin's diagnostics text as TaskDiagnostics. Throws std::runtime_error
// saying what is wrong: too long, not JSON, or the field that breaks the
// shape ("diagnostics.classification.confusion: 1 rows for 2 classes ...").
TaskDiagnostics read_plugin_diagnostics(std::string_view text);

// The predictions do not have the shape, dtype or row count the task
// demands: the candidate's fault (a TorchScript model can return anything).
class ContractViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The predictions file is missing, a link, or malformed: the evaluation job
// (where candidate code runs) wrote it, so this is the solution's failure.
class InvalidPredictions : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Reads and checks the predictions file an evaluation left, on the trusted
// side, before any plugin sees it: well-formed (InvalidPredictions), and of
// the task's output spec with exactly `rows` rows (ContractViolation).
Array read_checked_predictions(const std::filesystem::path& predictions, const torchexam_tensor_spec& output,
                               int64_t rows);

// Loads the task plugin and has it score checked predictions, with its
// diagnostics when it gives them (see above); maps the metric through the
// ladder. A failure of the score itself (the plugin, its labels) is the
// harness's own problem and throws PluginError or std::runtime_error.
ScoreOutcome score_predictions(const std::filesystem::path& plugin,
                               const std::map<std::string, std::string>& options, const Array& predictions,
                               const config::Ladder& ladder);

}  // namespace torchexam
