// torchexam/scoring.hpp — the metrics task plugins compute in score(), for
// plugin authors (the trusted side; not a header for candidate code).
//
// score_classification(): argmax of float32 logits [N, classes] against
// int64 labels: accuracy, the confusion matrix and per-class precision,
// recall and F1. score_mean_absolute_error(): float32 predictions [N, K]
// against targets: the mean absolute error over every value and per output
// column (per forecast horizon, say). Both first check the predictions'
// shape and dtype with check_predictions().
//
// What they return are aggregates only (counts, rates, means), never a
// sample or a label, so a result may leave the scorer as a diagnostic.
//
// Conventions, the same in every built-in plugin:
// - argmax: logits are compared with '>' from the first on, so the first
//   maximal logit wins a tie and a NaN never replaces the best so far: an
//   all-NaN row (or one whose first logit is NaN) counts as class 0;
// - a rate whose denominator is 0 (no samples, no prediction of a class, no
//   member of a class) is 0;
// - a NaN or infinite prediction makes the mean absolute error NaN or
//   infinite (the ladder then scores 0).
//
// Failure: std::invalid_argument, with a message for the candidate, when
// the predictions do not fit; std::invalid_argument when the plugin passes
// labels or targets that do not fit (a plugin bug). Threads: pure functions.
#pragma once

#include <torchexam/plugin.hpp>

#include <cmath>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace torchexam {

// Throws std::invalid_argument "predictions must be [rows, cols] <expected>,
// got <shape> <dtype>" unless `predictions` is float32 [rows, cols].
// `expected` says what they should be, e.g. "float32" or "float32 logits".
inline void check_predictions(const torchexam_array& predictions, int64_t rows, int64_t cols,
                              const char* expected = "float32") {
  if (predictions.dtype == TORCHEXAM_DTYPE_FLOAT32 && predictions.ndim == 2 && predictions.shape[0] == rows &&
      predictions.shape[1] == cols)
    return;
  throw std::invalid_argument("predictions must be [" + std::to_string(rows) + ", " + std::to_string(cols) + "] " +
                              expected + ", got " + shape_string(predictions.shape, predictions.ndim) + " " +
                              dtype_name(predictions.dtype));
}

// The index of the first maximal value of row[0, n), compared with '>' from
// row[0] on: a NaN never replaces the best so far.
inline int64_t argmax(const float* row, int64_t n) {
  int64_t best = 0;
  for (int64_t c = 1; c < n; ++c)
    if (row[c] > row[best]) best = c;
  return best;
}

struct ClassMetrics {
  int64_t support = 0;    // samples of this class
  int64_t predicted = 0;  // samples predicted as this class
  double precision = 0;   // true positives / predicted
  double recall = 0;      // true positives / support
  double f1 = 0;          // harmonic mean of precision and recall
};

struct ClassificationScore {
  int64_t classes = 0;
  int64_t samples = 0;
  int64_t correct = 0;
  double accuracy = 0;  // correct / samples
  // classes x classes, row-major: confusion[truth * classes + predicted].
  std::vector<int64_t> confusion;
  std::vector<ClassMetrics> per_class;  // by class id

  int64_t count(int64_t truth, int64_t predicted) const {
    return confusion[static_cast<size_t>(truth * classes + predicted)];
  }
};

// Scores logits float32 [labels.size(), classes] against labels in
// [0, classes). `expected` goes to check_predictions().
inline ClassificationScore score_classification(const torchexam_array& logits, const std::vector<int64_t>& labels,
                                                int64_t classes, const char* expected = "float32") {
  if (classes < 1) throw std::invalid_argument("score_classification: classes must be >= 1");
  const auto n = static_cast<int64_t>(labels.size());
  check_predictions(logits, n, classes, expected);
  ClassificationScore s;
  s.classes = classes;
  s.samples = n;
  s.confusion.assign(static_cast<size_t>(classes * classes), 0);
  const auto* rows = static_cast<const float*>(logits.data);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t truth = labels[static_cast<size_t>(i)];
    if (truth < 0 || truth >= classes)
      throw std::invalid_argument("score_classification: label " + std::to_string(truth) + " of sample " +
                                  std::to_string(i) + " is not a class id below " + std::to_string(classes));
    const int64_t predicted = argmax(rows + i * classes, classes);
    ++s.confusion[static_cast<size_t>(truth * classes + predicted)];
    s.correct += predicted == truth;
  }
  const auto rate = [](int64_t part, int64_t whole) {
    return whole ? static_cast<double>(part) / static_cast<double>(whole) : 0.0;
  };
  s.accuracy = rate(s.correct, n);
  s.per_class.resize(static_cast<size_t>(classes));
  for (int64_t c = 0; c < classes; ++c) {
    ClassMetrics& m = s.per_class[static_cast<size_t>(c)];
    for (int64_t k = 0; k < classes; ++k) {
      m.support += s.count(c, k);
      m.predicted += s.count(k, c);
    }
    m.precision = rate(s.count(c, c), m.predicted);
    m.recall = rate(s.count(c, c), m.support);
    const double sum = m.precision + m.recall;
    m.f1 = sum > 0 ? 2 * m.precision * m.recall / sum : 0.0;
  }
  return s;
}

struct RegressionScore {
  int64_t samples = 0;
  int64_t outputs = 0;  // values per sample (columns)
  double mae = 0;       // mean of |prediction - target| over every value
  std::vector<double> mae_per_output;  // the same per column, by column
};

// Scores predictions float32 [N, outputs] against `targets`, N * outputs
// values in row-major order.
inline RegressionScore score_mean_absolute_error(const torchexam_array& predictions,
                                                 const std::vector<double>& targets, int64_t outputs) {
  if (outputs < 1 || targets.size() % static_cast<size_t>(outputs) != 0)
    throw std::invalid_argument("score_mean_absolute_error: " + std::to_string(targets.size()) +
                                " targets do not make rows of " + std::to_string(outputs));
  const auto n = static_cast<int64_t>(targets.size()) / outputs;
  check_predictions(predictions, n, outputs);
  RegressionScore s;
  s.samples = n;
  s.outputs = outputs;
  s.mae_per_output.assign(static_cast<size_t>(outputs), 0.0);
  const auto* p = static_cast<const float*>(predictions.data);
  double sum = 0;  // in row-major order, one accumulator: the same figure however the columns fall
  for (size_t i = 0; i < targets.size(); ++i) {
    const double error = std::fabs(static_cast<double>(p[i]) - targets[i]);
    sum += error;
    s.mae_per_output[i % static_cast<size_t>(outputs)] += error;
  }
  if (n == 0) return s;
  s.mae = sum / static_cast<double>(targets.size());
  for (double& column : s.mae_per_output) column /= static_cast<double>(n);
  return s;
}

}  // namespace torchexam
