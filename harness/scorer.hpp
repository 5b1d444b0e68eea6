// scorer.hpp — the trusted side: hidden labels meet the predictions here, in
// the harness's own process, never in one that ran candidate code.
#pragma once

#include "config.hpp"

#include <filesystem>
#include <map>
#include <string>

namespace torchexam {

struct ScoreOutcome {
  double metric = 0;
  int score = 0;
};

// Loads the task plugin, reads the predictions file and has the plugin score
// it; maps the metric through the ladder. Throws PluginError when the plugin
// rejects the predictions (wrong shape or dtype) and std::runtime_error for
// an unreadable predictions file.
ScoreOutcome score_predictions(const std::filesystem::path& plugin,
                               const std::map<std::string, std::string>& options,
                               const std::filesystem::path& predictions, const config::Ladder& ladder);

}  // namespace torchexam
