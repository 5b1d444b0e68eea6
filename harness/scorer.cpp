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
  const torchexam_tensor_spec& spec = task.info().output;
  const torchexam_array& a = p.get();
  bool ok = a.dtype == spec.dtype && a.ndim == spec.ndim;
  for (int32_t i = 0; ok && i < spec.ndim; ++i) ok = spec.shape[i] < 0 || a.shape[i] == spec.shape[i];
  if (!ok)
    throw ContractViolation("the predictions are " + shape_string(a.shape, a.ndim) + " " + dtype_name(a.dtype) +
                            ", but the task expects " + spec_string(spec));
  ScoreOutcome out;
  out.metric = task.score(p.get());
  out.score = ladder.score(out.metric);
  return out;
}

}  // namespace torchexam
