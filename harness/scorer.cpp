#include "scorer.hpp"

#include "predictions.hpp"

#include <torchexam/plugin.hpp>

namespace torchexam {

ScoreOutcome score_predictions(const std::filesystem::path& plugin,
                               const std::map<std::string, std::string>& options,
                               const std::filesystem::path& predictions, const config::Ladder& ladder) {
  auto lib = PluginLibrary::open(plugin.string());
  Task task = lib->create(options);
  Array p = sandbox::read_predictions(predictions);
  ScoreOutcome out;
  out.metric = task.score(p.get());
  out.score = ladder.score(out.metric);
  return out;
}

}  // namespace torchexam
