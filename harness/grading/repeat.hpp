// repeat.hpp — what `torchexam grade --repeat N` reports of N gradings of
// one source: each run's verdict, metric and score, the metric's spread
// (min, median, max over the runs that have a metric), whether the score
// flips, whether the metrics are bit-identical and the prediction files
// identical, and what differs between the runs' fingerprints.
//
// JSON (`grade --repeat N --json`; the runs are full grade results, as
// `grade --json` prints one):
//   {"repeat": 3, "metric_name": "accuracy",
//    "metric": {"min": 0.85, "median": 0.85, "max": 0.85, "spread": 0},   null when no run has one
//    "scores": [4, 4, 4], "score_flips": false,
//    "score_rule": "live", "score_taken": 4,        the environment's grading.repeat_score
//    "metrics_identical": true, "predictions_identical": true,
//    "predictions_sha256": ["…", …],                                   "" for a run without predictions
//    "fingerprint_differences": ["run 2: thread count 2 -> 1", …],
//    "runs": [<grade result>, …]}
//
// summarize_repeats is pure; grade_repeatedly grades (grader.hpp), for
// `grade --repeat` and `torchexam calibrate` alike.
#pragma once

#include "grading/grader.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace torchexam {

struct MetricSpread {
  double min = 0;
  double median = 0;  // of an even count: the mean of the middle two
  double max = 0;
  friend bool operator==(const MetricSpread&, const MetricSpread&) = default;
};

// min, median and max of `metrics`; nullopt when empty.
std::optional<MetricSpread> metric_spread(std::vector<double> metrics);

struct RepeatSummary {
  std::string metric_name;
  std::optional<MetricSpread> metric;
  std::vector<int> scores;
  bool score_flips = false;            // not every run has the same score and verdict
  config::Grading::RepeatScore score_rule = config::Grading::RepeatScore::live;
  int score_taken = 0;                 // taken_score(scores, score_rule)
  bool metrics_identical = false;      // every run has a metric, bit for bit the same
  bool predictions_identical = false;  // every run wrote predictions, byte for byte the same
  std::vector<std::string> predictions_sha256;
  std::vector<std::string> fingerprint_differences;  // "run K: <reason>" against run 1
  std::vector<GradeResult> runs;
};

// The score a task takes from gradings of one source that may disagree:
// live, the first (the judging that was live before any regrade); best,
// the highest; median, the middle one (of an even count the lower of the
// two middle ones, a score some grading gave). 0 for no scores.
int taken_score(const std::vector<int>& scores, config::Grading::RepeatScore rule);

// `predictions_sha256[i]` is run i's prediction file's sha256, "" when it
// wrote none; the vector is as long as `runs`.
RepeatSummary summarize_repeats(std::vector<GradeResult> runs, std::vector<std::string> predictions_sha256,
                                config::Grading::RepeatScore rule = config::Grading::RepeatScore::live);

// Grades `request` once per entry of `seeds`, run i with the task's seed
// replaced by seeds[i] (nullopt: task.yaml's own), each in a job folder of
// its own (request.job_dir must be empty). `observer(i)` makes run i's
// observer, destroyed when the run ends. Returns the runs and each run's
// predictions file's sha256 ("" when it wrote none), as summarize_repeats
// takes them. Never throws for what a solution does (grade()'s policy).
struct RepeatRuns {
  std::vector<GradeResult> runs;
  std::vector<std::string> predictions_sha256;
};
RepeatRuns grade_repeatedly(const GradeRequest& request, const std::vector<std::optional<uint64_t>>& seeds,
                            const std::function<std::unique_ptr<GradeObserver>(size_t run)>& observer);

// The summary as lines for a person (no trailing newlines).
std::vector<std::string> repeat_lines(const RepeatSummary& s);

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const RepeatSummary& s);

}  // namespace torchexam
