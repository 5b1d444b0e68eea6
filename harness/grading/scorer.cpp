#include "grading/scorer.hpp"

#include "base/json_shape.hpp"
#include "sandbox/predictions.hpp"

#include <torchexam/plugin.hpp>

#include <boost/json.hpp>

#include <fmt/format.h>

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

TaskDiagnostics read_plugin_diagnostics(std::string_view text) {
  if (text.size() > kMaxDiagnosticsBytes)
    throw std::runtime_error(fmt::format("the text is {} bytes, more than the {} diagnostics may take (aggregates only)",
                                         text.size(), kMaxDiagnosticsBytes));
  boost::system::error_code ec;
  const boost::json::value v = boost::json::parse(text, ec);
  if (ec) throw std::runtime_error("the text is not JSON (" + ec.message() + ")");
  try {
    return boost::json::value_to<TaskDiagnostics>(v);
  } catch (const json_shape::ShapeError& e) {
    throw std::runtime_error("diagnostics" + e.what_at());
  }
}

ScoreOutcome score_predictions(const std::filesystem::path& plugin,
                               const std::map<std::string, std::string>& options, const Array& predictions,
                               const config::Ladder& ladder) {
  auto lib = PluginLibrary::open(plugin.string());
  Task task = lib->create(options);
  ScoreOutcome out;
  const auto dropped = [&](const std::string& why) {
    out.diagnostics_note = fmt::format(
        "task diagnostics of plugin '{}' dropped, the metric stands (a fault of the plugin, not of the solution): {}",
        lib->name(), why);
  };
  Scored scored;
  try {
    scored = task.score_with_diagnostics(predictions.get());
  } catch (const PluginError& e) {
    if (!task.has_diagnostics()) throw;
    dropped(e.what());
    scored = {task.score(predictions.get()), {}};
  }
  out.metric = scored.metric;
  out.score = ladder.score(out.metric);
  if (!scored.diagnostics_json.empty()) {
    try {
      out.diagnostics = read_plugin_diagnostics(scored.diagnostics_json);
    } catch (const std::exception& e) {
      dropped(e.what());
    }
  }
  return out;
}

}  // namespace torchexam
