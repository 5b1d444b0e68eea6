#include "grading/scorer.hpp"

#include "sandbox/predictions.hpp"

#include <torchexam/plugin.hpp>

namespace torchexam {

Array read_checked_predictions(const std::filesystem::path& predictions, const torchexam_tensor_spec& spec,
                               int64_t rows) {
  Array p;
  try {
    p = sandbox::read_predictions(predictions);
  } catch (const sandbox::MalformedPredictions& e) {
    throw InvalidPredictions(std::string(e.what()) +
                             " (the evaluation job writes this file after the model's last forward(); code that "
                             "writes, replaces or removes it makes the evaluation fail)");
  }
  const torchexam_array& a = p.get();
  bool ok = a.dtype == spec.dtype && a.ndim == spec.ndim;
  for (int32_t i = 0; ok && i < spec.ndim; ++i) ok = spec.shape[i] < 0 || a.shape[i] == spec.shape[i];
  if (!ok)
    throw ContractViolation("the predictions are " + shape_string(a.shape, a.ndim) + " " + dtype_name(a.dtype) +
                            ", but the task expects " + spec_string(spec));
  if (a.shape[0] != rows)
    throw ContractViolation("the predictions have " + std::to_string(a.shape[0]) + " rows for " +
                            std::to_string(rows) + " test samples");
  return p;
}

ScoreOutcome score_predictions(const std::filesystem::path& plugin,
                               const std::map<std::string, std::string>& options, const Array& predictions,
                               const config::Ladder& ladder) {
  auto lib = PluginLibrary::open(plugin.string());
  Task task = lib->create(options);
  ScoreOutcome out;
  out.metric = task.score(predictions.get());
  out.score = ladder.score(out.metric);
  return out;
}

}  // namespace torchexam
