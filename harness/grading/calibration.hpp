// calibration.hpp — a task's threshold ladder proposed from gradings over
// several seeds (`torchexam calibrate`), instead of by hand.
//
// The rules a proposal meets, on every seed graded:
//   - the reference scores 5, its worst seed clearing the score-5 threshold
//     by `margin`;
//   - the starter scores at most 1 (the proposal gives it 0: its best seed
//     falls short of the score-1 threshold by `margin`);
//   - the thresholds are strictly monotonic in the metric's direction, so
//     the loader accepts them.
// margin = margin_fraction * the gap between the reference's worst seed and
// the starter's best. Scores 2-4 split the range between the score-1 and
// score-5 thresholds evenly; candidates are placed where they fall. Every
// threshold is rounded to a step of at most gap/50 (rounded outwards at the
// two ends), and the rounded ladder is checked against the rules again.
//
// When no ladder can meet the rules (the reference no better than the
// starter, a reference seed without a metric, a starter with no metric on
// any seed) the proposal is not ok and `problem` says why and what to fix.
//
// Pure and deterministic; no I/O.
#pragma once

#include "config/config.hpp"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace torchexam {

// One source's gradings, one entry per seed (same order for every source).
struct CalibrationRuns {
  std::string label;                          // "reference.cpp", a candidate's path
  std::vector<std::optional<double>> metric;  // nullopt: no metric (a failed grading)
  std::vector<std::string> verdict;           // "ok", "runtime_error", ...
};

struct CalibrationPlacement {
  std::string role;  // reference, starter, candidate
  std::string label;
  std::vector<int> scores;  // per seed, under the proposed ladder
};

struct LadderProposal {
  bool ok = false;
  std::string problem;              // when !ok: why no ladder meets the rules
  std::vector<double> thresholds;   // scores 1..5, as written (rounded)
  std::vector<std::string> written; // the thresholds as task.yaml gets them
  bool higher_is_better = true;
  double margin = 0;
  std::vector<CalibrationPlacement> placements;  // reference, starter, then candidates
};

inline constexpr double kDefaultMarginFraction = 0.1;

LadderProposal propose_ladder(bool higher_is_better, const std::vector<uint64_t>& seeds,
                              const CalibrationRuns& reference, const CalibrationRuns& starter,
                              const std::vector<CalibrationRuns>& candidates,
                              double margin_fraction = kDefaultMarginFraction);

// "accuracy min 0.9123  median 0.9200  max 0.9301" (or "no metric") for a source.
std::string metric_spread_text(const std::string& metric_name, const CalibrationRuns& runs);

// The comment task.yaml gets above the ladder (lines without "# "): what was
// graded, each source's spread and scores, the margin, the date given.
std::vector<std::string> calibration_comment(const std::string& metric_name, const std::vector<uint64_t>& seeds,
                                             const LadderProposal& proposal,
                                             const std::vector<CalibrationRuns>& sources,
                                             const std::string& date);

}  // namespace torchexam
