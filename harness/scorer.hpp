// scorer.hpp — the trusted side: hidden labels meet the predictions here, in
// the harness's own process, never in one that ran candidate code.
#pragma once

#include "config.hpp"

#include <filesystem>
#include <map>
#include <stdexcept>
#include <string>

namespace torchexam {

struct ScoreOutcome {
  double metric = 0;
  int score = 0;
};

// The predictions do not have the shape or dtype the task's output spec
// demands: the candidate's fault (a TorchScript model can return anything).
class ContractViolation : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Loads the task plugin, reads the predictions file, checks it against the
// task's output spec (ContractViolation) and has the plugin score it; maps
// the metric through the ladder. Anything else that fails (the plugin, its
// labels, an unreadable predictions file) is the harness's own problem and
// throws PluginError or std::runtime_error.
ScoreOutcome score_predictions(const std::filesystem::path& plugin,
                               const std::map<std::string, std::string>& options,
                               const std::filesystem::path& predictions, const config::Ladder& ladder);

}  // namespace torchexam
