// scorer.hpp — the trusted side: hidden labels meet the predictions here, in
// the harness's own process, never in one that ran candidate code.
#pragma once

#include "config/config.hpp"

#include <torchexam/plugin.hpp>

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

namespace torchexam {

struct ScoreOutcome {
  double metric = 0;
  int score = 0;
};

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

// Loads the task plugin and has it score checked predictions; maps the
// metric through the ladder. A failure here (the plugin, its labels) is the
// harness's own problem and throws PluginError or std::runtime_error.
ScoreOutcome score_predictions(const std::filesystem::path& plugin,
                               const std::map<std::string, std::string>& options, const Array& predictions,
                               const config::Ladder& ladder);

}  // namespace torchexam
