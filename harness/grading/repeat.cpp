#include "grading/repeat.hpp"

#include "base/hash.hpp"
#include "base/json_shape.hpp"
#include "grading/grade_json.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cstring>

namespace torchexam {
namespace json = boost::json;
using json_shape::write;

namespace {

bool same_bits(double a, double b) { return std::memcmp(&a, &b, sizeof a) == 0; }

}  // namespace

std::optional<MetricSpread> metric_spread(std::vector<double> metrics) {
  if (metrics.empty()) return std::nullopt;
  std::sort(metrics.begin(), metrics.end());
  const size_t n = metrics.size();
  return MetricSpread{metrics.front(), n % 2 ? metrics[n / 2] : (metrics[n / 2 - 1] + metrics[n / 2]) / 2,
                      metrics.back()};
}

int taken_score(const std::vector<int>& scores, config::Grading::RepeatScore rule) {
  if (scores.empty()) return 0;
  switch (rule) {
    case config::Grading::RepeatScore::live: return scores.front();
    case config::Grading::RepeatScore::best: return *std::max_element(scores.begin(), scores.end());
    case config::Grading::RepeatScore::median: {
      std::vector<int> sorted = scores;
      std::sort(sorted.begin(), sorted.end());
      return sorted[(sorted.size() - 1) / 2];
    }
  }
  return scores.front();
}

RepeatSummary summarize_repeats(std::vector<GradeResult> runs, std::vector<std::string> predictions_sha256,
                                config::Grading::RepeatScore rule) {
  RepeatSummary s;
  s.score_rule = rule;
  predictions_sha256.resize(runs.size());
  s.predictions_sha256 = std::move(predictions_sha256);
  if (!runs.empty()) s.metric_name = runs.front().metric_name;
  std::vector<double> metrics;
  for (const auto& r : runs) {
    s.scores.push_back(r.score);
    if (r.metric) metrics.push_back(*r.metric);
  }
  s.metric = metric_spread(metrics);
  for (const auto& r : runs)
    if (r.score != runs.front().score || r.verdict != runs.front().verdict) s.score_flips = true;
  s.score_taken = taken_score(s.scores, rule);
  s.metrics_identical = !runs.empty() && metrics.size() == runs.size() &&
                        std::all_of(metrics.begin(), metrics.end(), [&](double m) { return same_bits(m, metrics[0]); });
  s.predictions_identical =
      !runs.empty() && !s.predictions_sha256.front().empty() &&
      std::all_of(s.predictions_sha256.begin(), s.predictions_sha256.end(),
                  [&](const std::string& h) { return h == s.predictions_sha256.front(); });
  for (size_t i = 1; i < runs.size(); ++i)
    if (runs[0].fingerprint && runs[i].fingerprint)
      for (const auto& reason : fingerprint_differences(*runs[0].fingerprint, *runs[i].fingerprint))
        s.fingerprint_differences.push_back(fmt::format("run {}: {}", i + 1, reason));
  s.runs = std::move(runs);
  return s;
}

RepeatRuns grade_repeatedly(const GradeRequest& request, const std::vector<std::optional<uint64_t>>& seeds,
                            const std::function<std::unique_ptr<GradeObserver>(size_t run)>& observer) {
  RepeatRuns out;
  for (size_t i = 0; i < seeds.size(); ++i) {
    config::TaskConfig task = *request.task;
    if (seeds[i]) task.seed = *seeds[i];
    GradeRequest req = request;
    req.task = &task;
    {
      const auto o = observer(i);
      out.runs.push_back(grade(req, *o));
    }
    const auto file = out.runs.back().job_dir / "evaluate" / "predictions.bin";
    std::error_code ec;
    out.predictions_sha256.push_back(std::filesystem::is_regular_file(file, ec) ? sha256_hex(read_file(file)) : "");
  }
  return out;
}

std::vector<std::string> repeat_lines(const RepeatSummary& s) {
  std::vector<std::string> out;
  const size_t n = s.runs.size();
  for (size_t i = 0; i < n; ++i) {
    const auto& r = s.runs[i];
    out.push_back(fmt::format("run {}/{}: {:<14} {} {}  score {}/5", i + 1, n, to_string(r.verdict), s.metric_name,
                              r.metric ? fmt::format("{:.6f}", *r.metric) : std::string("-"), r.score));
  }
  if (s.metric)
    out.push_back(fmt::format("{} over {} runs: min {:.6f}  median {:.6f}  max {:.6f}  (spread {:.3g})", s.metric_name,
                              n, s.metric->min, s.metric->median, s.metric->max, s.metric->max - s.metric->min));
  out.push_back(s.score_flips ? fmt::format("score FLIPS between runs: {}; taken: {}/5 (grading.repeat_score: {})",
                                            fmt::join(s.scores, ", "), s.score_taken, to_string(s.score_rule))
                              : fmt::format("score stable: {}/5 in every run", s.score_taken));
  out.push_back(fmt::format("metrics bit-identical: {}; predictions identical: {}", s.metrics_identical ? "yes" : "no",
                            s.predictions_identical ? "yes" : "no"));
  if (s.fingerprint_differences.empty()) out.push_back("fingerprints: the same in every run");
  for (const auto& d : s.fingerprint_differences) out.push_back("fingerprint " + d);
  return out;
}

void tag_invoke(json::value_from_tag, json::value& v, const RepeatSummary& s) {
  json::value metric = nullptr;
  if (s.metric)
    metric = json::object{{"min", write(s.metric->min)},
                          {"median", write(s.metric->median)},
                          {"max", write(s.metric->max)},
                          {"spread", write(s.metric->max - s.metric->min)}};
  v = json::object{{"repeat", s.runs.size()},
                   {"metric_name", s.metric_name},
                   {"metric", std::move(metric)},
                   {"scores", write(s.scores)},
                   {"score_flips", s.score_flips},
                   {"score_rule", to_string(s.score_rule)},
                   {"score_taken", s.score_taken},
                   {"metrics_identical", s.metrics_identical},
                   {"predictions_identical", s.predictions_identical},
                   {"predictions_sha256", write(s.predictions_sha256)},
                   {"fingerprint_differences", write(s.fingerprint_differences)},
                   {"runs", write(s.runs)}};
}

}  // namespace torchexam
