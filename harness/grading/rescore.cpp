#include "grading/rescore.hpp"

#include "base/paths.hpp"
#include "grading/scorer.hpp"
#include "grading/staging.hpp"

#include <fmt/format.h>

#include <chrono>

namespace torchexam {
namespace fs = std::filesystem;

namespace {

// The fingerprint's parts that scoring depends on, as they are now.
void refresh_fingerprint(Fingerprint& f, const config::TaskConfig& task, const fs::path& plugin,
                         const std::map<std::string, std::string>& options, FingerprintProbes& probes) {
  f.harness_version = probes.harness_version();
  f.plugin.sha256 = probes.file_sha256(plugin);
  const double budget = f.task.time_budget_s > 0 ? f.task.time_budget_s : task.time_budget_s;
  f.task = task_definition(task, budget, options);
  f.task_sha256 = task_sha256(task, f.task, f.seed);
}

}  // namespace

Rescored rescore(const RescoreRequest& req) {
  Rescored out{req.before, {}};
  GradeResult& r = out.result;
  const auto& env = *req.environment;
  const auto& task = *req.task;
  // A grading stopped by its time limit was scored on its last checkpoint:
  // its predictions are as good to rescore as an ok one's.
  if (!r.metric) {
    out.note = fmt::format("nothing to rescore: the grading ended {} without a score; a retrain regrades it",
                           to_string(r.verdict));
    return out;
  }
  std::error_code ec;
  if (req.predictions.empty() || !fs::is_regular_file(req.predictions, ec)) {
    out.note = "no stored predictions (graded before TorchExam kept them): unchanged; a retrain regrades it";
    return out;
  }
  const auto start = std::chrono::steady_clock::now();
  try {
    const fs::path plugin = paths::plugin(task.plugin);
    const auto options = task_plugin_options(env, task);
    const fs::path cache = req.cache_dir.empty() ? paths::cache_dir() : req.cache_dir;
    const StagedTask staged = stage_task(task_stage_request(env, task, plugin, options, cache));
    FingerprintProbes& probes = req.probes ? *req.probes : system_fingerprint_probes();
    if (r.fingerprint) refresh_fingerprint(*r.fingerprint, task, plugin, options, probes);
    r.metric_name = task.metric;
    try {
      const Array predictions =
          read_checked_predictions(req.predictions, staged.spec.output, staged.spec.test_samples);
      ScoreOutcome s = score_predictions(plugin, options, predictions, task.ladder);
      r.metric = s.metric;
      r.score = s.score;
      r.task_diagnostics = std::move(s.diagnostics);
      if (r.verdict == Verdict::ok) r.message = score_message(task.metric, s.metric, s.score);
      else r.message = fmt::format("{} (rescored: {})", r.message, score_message(task.metric, s.metric, s.score));
      if (!s.diagnostics_note.empty()) r.log.push_back(s.diagnostics_note);
    } catch (const ContractViolation& e) {
      r.verdict = Verdict::contract;
      r.metric.reset();
      r.score = 0;
      r.message = e.what();
    } catch (const InvalidPredictions& e) {
      r.verdict = Verdict::runtime_error;
      r.metric.reset();
      r.score = 0;
      r.message = std::string("evaluation: ") + e.what();
    }
  } catch (const std::exception& e) {
    r = req.before;
    out.note = std::string("could not rescore (the harness's fault, the old result stands): ") + e.what();
  }
  r.timings.score_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return out;
}

}  // namespace torchexam
