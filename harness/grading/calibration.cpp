#include "grading/calibration.hpp"

#include "grading/repeat.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>

namespace torchexam {

namespace {

// The metric turned so that larger is better.
double goodness(double metric, bool higher_is_better) { return higher_is_better ? metric : -metric; }

bool has_metric(const std::optional<double>& m) { return m && std::isfinite(*m); }

std::string seed_list(const std::vector<uint64_t>& seeds) { return fmt::format("{}", fmt::join(seeds, ", ")); }

std::vector<int> scores_under(const config::Ladder& ladder, const CalibrationRuns& runs) {
  std::vector<int> out;
  for (const auto& m : runs.metric) out.push_back(has_metric(m) ? ladder.score(*m) : 0);
  return out;
}

}  // namespace

std::string metric_spread_text(const std::string& metric_name, const CalibrationRuns& runs) {
  std::vector<double> v;
  for (const auto& m : runs.metric)
    if (has_metric(m)) v.push_back(*m);
  const auto spread = metric_spread(v);
  if (!spread) return fmt::format("{} none (no seed gave a metric)", metric_name);
  const size_t n = v.size();
  std::string text = fmt::format("{} min {:.4g}  median {:.4g}  max {:.4g}", metric_name, spread->min, spread->median, spread->max);
  if (n < runs.metric.size()) text += fmt::format(" ({} of {} seeds without a metric)", runs.metric.size() - n, runs.metric.size());
  return text;
}

LadderProposal propose_ladder(bool higher_is_better, const std::vector<uint64_t>& seeds,
                              const CalibrationRuns& reference, const CalibrationRuns& starter,
                              const std::vector<CalibrationRuns>& candidates, double margin_fraction) {
  LadderProposal p;
  p.higher_is_better = higher_is_better;
  auto fail = [&](std::string why) {
    p.problem = std::move(why);
    return p;
  };
  for (size_t i = 0; i < reference.metric.size(); ++i)
    if (!has_metric(reference.metric[i]))
      return fail(fmt::format("the reference ({}) has no metric on seed {} (verdict {}): a ladder needs the reference "
                              "to be graded on every seed; fix it (torchexam grade ENV TASK {} says why) and calibrate "
                              "again",
                              reference.label, i < seeds.size() ? seeds[i] : i,
                              i < reference.verdict.size() ? reference.verdict[i] : "?", reference.label));
  if (reference.metric.empty()) return fail("no seeds were graded");
  double ref_worst = INFINITY, starter_best = -INFINITY;
  for (const auto& m : reference.metric) ref_worst = std::min(ref_worst, goodness(*m, higher_is_better));
  for (const auto& m : starter.metric)
    if (has_metric(m)) starter_best = std::max(starter_best, goodness(*m, higher_is_better));
  if (!std::isfinite(starter_best))
    return fail(fmt::format("the starter ({}) has no metric on any seed ({}): the ladder's bottom is set just above "
                            "the starter, so the starter must run and be scored; fix it and calibrate again",
                            starter.label, fmt::join(starter.verdict, ", ")));
  auto metric_of = [&](double g) { return higher_is_better ? g : -g; };
  const double gap = ref_worst - starter_best;
  if (!(gap > 0))
    return fail(fmt::format("no ladder meets the rules: the reference's worst seed ({} {:.6g}) is no better than the "
                            "starter's best ({} {:.6g}); the reference must beat the starter on every seed "
                            "(a better reference, or a starter that does less)",
                            reference.label, metric_of(ref_worst), starter.label, metric_of(starter_best)));
  p.margin = margin_fraction * gap;
  // A decimal step of at most gap/50: thresholds read as round numbers.
  const double step = std::pow(10.0, std::floor(std::log10(gap / 50)));
  const int digits = std::max(0, -static_cast<int>(std::floor(std::log10(step))));
  const double g5 = std::floor((ref_worst - p.margin) / step) * step;
  const double g1 = std::ceil((starter_best + p.margin) / step) * step;
  for (int k = 0; k < 5; ++k) {
    const double g = k == 0 ? g1 : k == 4 ? g5 : std::round((g1 + (g5 - g1) * k / 4) / step) * step;
    const double value = metric_of(g) == 0 ? 0.0 : metric_of(g);  // never "-0"
    std::string text = fmt::format("{:.{}f}", value, digits);
    if (text.find('.') != std::string::npos) {  // 0.910 -> 0.91, 2.0 -> 2
      text.erase(text.find_last_not_of('0') + 1);
      if (text.back() == '.') text.pop_back();
    }
    p.written.push_back(text);
    p.thresholds.push_back(std::stod(p.written.back()));
  }
  const config::Ladder ladder{p.thresholds, higher_is_better, {}};
  for (size_t k = 1; k < p.thresholds.size(); ++k)
    if (higher_is_better ? !(p.thresholds[k] > p.thresholds[k - 1]) : !(p.thresholds[k] < p.thresholds[k - 1]))
      return fail(fmt::format("the rounded thresholds {} are not strictly monotonic", fmt::join(p.written, ", ")));
  p.placements.push_back({"reference", reference.label, scores_under(ladder, reference)});
  p.placements.push_back({"starter", starter.label, scores_under(ladder, starter)});
  for (const auto& c : candidates) p.placements.push_back({"candidate", c.label, scores_under(ladder, c)});
  const auto& ref_scores = p.placements[0].scores;
  const auto& starter_scores = p.placements[1].scores;
  if (std::any_of(ref_scores.begin(), ref_scores.end(), [](int s) { return s != 5; }) ||
      std::any_of(starter_scores.begin(), starter_scores.end(), [](int s) { return s > 1; }))
    return fail(fmt::format("the rounded ladder [{}] gives the reference {} and the starter {}", fmt::join(p.written, ", "),
                            fmt::join(ref_scores, ","), fmt::join(starter_scores, ",")));
  p.ok = true;
  return p;
}

std::vector<std::string> calibration_comment(const std::string& metric_name, const std::vector<uint64_t>& seeds,
                                             const LadderProposal& proposal,
                                             const std::vector<CalibrationRuns>& sources, const std::string& date) {
  std::vector<std::string> out;
  out.push_back(fmt::format("{} needed for scores 1..5; {} is better. Calibrated by `torchexam calibrate`", metric_name,
                            proposal.higher_is_better ? "higher" : "lower"));
  out.push_back(fmt::format("({}) over seeds {}:", date, seed_list(seeds)));
  for (size_t i = 0; i < sources.size() && i < proposal.placements.size(); ++i) {
    const auto& place = proposal.placements[i];
    out.push_back(fmt::format("  {} {}: {}", place.role, sources[i].label, metric_spread_text(metric_name, sources[i])));
    out.push_back(fmt::format("    scores {}", fmt::join(place.scores, ", ")));
  }
  out.push_back(fmt::format("Rules: the reference scores 5 on every seed, its worst seed {:.4g} past the score-5",
                            proposal.margin));
  out.push_back("threshold; the starter scores at most 1; scores 2-4 split the range evenly.");
  return out;
}

}  // namespace torchexam
