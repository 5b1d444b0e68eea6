// task_diagnostics.hpp — what a task's scorer may say about a grading beyond
// its metric: aggregates computed on the trusted side from the hidden labels
// (a confusion matrix, per-class figures, error by target range, error per
// forecast step). Carried in the grading's record (grade_json.hpp), shown by
// `torchexam report`.
//
// Aggregates only: no hidden sample, hidden label or per-sample target ever
// appears here. The shape enforces part of that: every list is bounded
// (kMaxDiagnosticValues), so a plugin cannot pass a label vector through; a
// plugin's own figures are its author's responsibility (docs/plugins.md).
//
// JSON (the one conversion place is task_diagnostics.cpp; reading checks
// shapes through json_shape and the bounds below, a violation is a
// json_shape::ShapeError naming the field):
//   {"kind": "classification", "classification": {
//       "accuracy": 0.91, "classes": ["ham", "spam"],
//       "confusion": [[900, 12], [30, 260]],        rows: true class, columns: predicted
//       "per_class": [{"name": "ham", "precision": .., "recall": .., "f1": .., "support": 912}, ...]}}
//   {"kind": "regression", "regression": {
//       "by_target_range": [{"low": 9.0, "high": 13.0, "count": 8, "mae": 2.1}, ...],   deciles of the hidden targets
//       "residuals": {"edges": [-8, -6, ..., 8], "counts": [1, 4, ...]}}}              predicted - true; counts has edges-1 entries
//   {"kind": "forecast", "forecast": {
//       "step_unit": "week", "mae_per_step": [0.31, 0.35, ...],                        step 1 first
//       "residuals": {"edges": [...], "counts": [...]}}}
// Every number is finite (a class never predicted has precision 0, as in
// scikit-learn's zero_division=0); a null or missing number is refused.
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace torchexam {

// The longest list a diagnostic may hold (classes, ranges, steps, bins); a
// confusion matrix has at most that many rows, each of one column per class.
inline constexpr std::size_t kMaxDiagnosticValues = 256;

struct ClassFigures {
  std::string name;
  double precision = 0;
  double recall = 0;
  double f1 = 0;
  int64_t support = 0;  // hidden samples of this class
  friend bool operator==(const ClassFigures&, const ClassFigures&) = default;
};

struct ClassificationDiagnostics {
  double accuracy = 0;
  std::vector<std::string> classes;
  std::vector<std::vector<int64_t>> confusion;  // [true][predicted], classes x classes
  std::vector<ClassFigures> per_class;          // in the order of `classes`
  friend bool operator==(const ClassificationDiagnostics&, const ClassificationDiagnostics&) = default;
};

struct Histogram {
  std::vector<double> edges;    // ascending, at least 2
  std::vector<int64_t> counts;  // edges.size() - 1 bins
  friend bool operator==(const Histogram&, const Histogram&) = default;
};

struct RangeError {
  double low = 0;   // the range of hidden targets, inclusive
  double high = 0;
  int64_t count = 0;
  double mae = 0;
  friend bool operator==(const RangeError&, const RangeError&) = default;
};

struct RegressionDiagnostics {
  std::vector<RangeError> by_target_range;
  Histogram residuals;
  friend bool operator==(const RegressionDiagnostics&, const RegressionDiagnostics&) = default;
};

struct ForecastDiagnostics {
  std::string step_unit;              // "week"
  std::vector<double> mae_per_step;   // step 1 first
  Histogram residuals;
  friend bool operator==(const ForecastDiagnostics&, const ForecastDiagnostics&) = default;
};

// Exactly one of the three is set, as `kind` says.
struct TaskDiagnostics {
  std::string kind;  // "classification", "regression", "forecast"
  std::optional<ClassificationDiagnostics> classification;
  std::optional<RegressionDiagnostics> regression;
  std::optional<ForecastDiagnostics> forecast;
  friend bool operator==(const TaskDiagnostics&, const TaskDiagnostics&) = default;
};

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ClassFigures& x);
ClassFigures tag_invoke(boost::json::value_to_tag<ClassFigures>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ClassificationDiagnostics& x);
ClassificationDiagnostics tag_invoke(boost::json::value_to_tag<ClassificationDiagnostics>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Histogram& x);
Histogram tag_invoke(boost::json::value_to_tag<Histogram>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const RangeError& x);
RangeError tag_invoke(boost::json::value_to_tag<RangeError>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const RegressionDiagnostics& x);
RegressionDiagnostics tag_invoke(boost::json::value_to_tag<RegressionDiagnostics>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ForecastDiagnostics& x);
ForecastDiagnostics tag_invoke(boost::json::value_to_tag<ForecastDiagnostics>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const TaskDiagnostics& x);
TaskDiagnostics tag_invoke(boost::json::value_to_tag<TaskDiagnostics>, const boost::json::value& v);

}  // namespace torchexam
