// torchexam/scoring.hpp — the metrics task plugins compute in score(), and
// the task diagnostics they return with them (score_with_diagnostics), for
// plugin authors (the trusted side; not a header for candidate code).
//
// score_classification(): argmax of float32 logits [N, classes] against
// int64 labels: accuracy, the confusion matrix and per-class precision,
// recall and F1. score_mean_absolute_error(): float32 predictions [N, K]
// against targets: the mean absolute error over every value and per output
// column (per forecast horizon, say). Both first check the predictions'
// shape and dtype with check_predictions().
//
// scored_classification(), scored_regression() and scored_forecast() give
// a task's metric with its diagnostics as JSON text (torchexam::Scored), in
// the shape docs/plugins.md gives ("Task diagnostics"), which the harness
// reads back and validates (harness/grading/task_diagnostics.hpp):
//   classification: accuracy, class names, the confusion matrix (rows: true
//     class, columns: predicted), per-class precision, recall, F1, support;
//   regression: the MAE per decile of the hidden targets (ranges of equal
//     counts, each of at least kMinRangeCount targets, so that no range
//     stands for one sample) and a histogram of the residuals;
//   forecast: the MAE per horizon step and a histogram of the residuals.
// The text is written by the small JsonText writer below, so a plugin needs
// no JSON library (the SDK is headers only, and a plugin links nothing of
// the harness). A NaN or infinite prediction gives regression and forecast
// no diagnostics (empty text): their figures would not be finite, and the
// metric already says the model failed.
//
// What they return are aggregates only (counts, rates, means, the bounds of
// decile ranges), never a sample or a label, so a result may leave the
// scorer as a diagnostic.
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

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
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

// ---------------------------------------------------------------------------
// Task diagnostics as JSON text.

// A JSON writer for the diagnostics' fixed shapes: objects, arrays, strings,
// integers and finite numbers, written in call order with the commas put
// in. Numbers are written locale-independently in their shortest form that
// reads back exactly (std::to_chars). Strings are escaped ('"', '\\',
// control characters); their other bytes are copied, so they must be UTF-8
// (the harness refuses a text that is not). Misuse (a value where a key is
// due, unbalanced ends) writes a text the harness refuses; a non-finite
// number throws std::invalid_argument.
class JsonText {
 public:
  JsonText& begin_object() { return open('{'); }
  JsonText& end_object() { return close('}'); }
  JsonText& begin_array() { return open('['); }
  JsonText& end_array() { return close(']'); }
  JsonText& key(std::string_view k) {
    separate();
    string(k);
    out_ += ':';
    after_key_ = true;
    return *this;
  }
  JsonText& value(std::string_view s) {
    separate();
    string(s);
    return *this;
  }
  JsonText& value(const char* s) { return value(std::string_view(s)); }
  JsonText& value(int64_t i) {
    separate();
    out_ += std::to_string(i);
    return *this;
  }
  JsonText& value(double d) {
    if (!std::isfinite(d)) throw std::invalid_argument("a diagnostic number must be finite");
    separate();
    char buf[32];
    const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, d);
    if (ec != std::errc()) throw std::invalid_argument("a diagnostic number could not be written");
    out_.append(buf, end);
    return *this;
  }
  template <class T>
  JsonText& array(const std::vector<T>& values) {
    begin_array();
    for (const T& v : values) value(v);
    return end_array();
  }
  const std::string& text() const { return out_; }

 private:
  JsonText& open(char c) {
    separate();
    out_ += c;
    first_.push_back(true);
    return *this;
  }
  JsonText& close(char c) {
    out_ += c;
    if (!first_.empty()) first_.pop_back();
    return *this;
  }
  void separate() {
    if (after_key_) {
      after_key_ = false;
      return;
    }
    if (first_.empty()) return;
    if (!first_.back()) out_ += ',';
    first_.back() = false;
  }
  void string(std::string_view s) {
    static const char kHex[] = "0123456789abcdef";
    out_ += '"';
    for (const char c : s) {
      const auto u = static_cast<unsigned char>(c);
      if (c == '"' || c == '\\') {
        out_ += '\\';
        out_ += c;
      } else if (u < 0x20) {
        out_ += "\\u00";
        out_ += kHex[u >> 4];
        out_ += kHex[u & 0xf];
      } else {
        out_ += c;
      }
    }
    out_ += '"';
  }

  std::string out_;
  std::vector<bool> first_;  // per open object or array: nothing written in it yet
  bool after_key_ = false;
};

// The classification diagnostics of `s`, its classes named by `names`
// (names.size() == s.classes, else std::invalid_argument).
inline std::string classification_diagnostics_json(const ClassificationScore& s,
                                                   const std::vector<std::string>& names) {
  if (static_cast<int64_t>(names.size()) != s.classes)
    throw std::invalid_argument("classification diagnostics: " + std::to_string(names.size()) + " names for " +
                                std::to_string(s.classes) + " classes");
  JsonText j;
  j.begin_object().key("kind").value("classification").key("classification").begin_object();
  j.key("accuracy").value(s.accuracy);
  j.key("classes").array(names);
  j.key("confusion").begin_array();
  for (int64_t t = 0; t < s.classes; ++t) {
    j.begin_array();
    for (int64_t p = 0; p < s.classes; ++p) j.value(s.count(t, p));
    j.end_array();
  }
  j.end_array();
  j.key("per_class").begin_array();
  for (int64_t c = 0; c < s.classes; ++c) {
    const ClassMetrics& m = s.per_class[static_cast<size_t>(c)];
    j.begin_object()
        .key("name").value(names[static_cast<size_t>(c)])
        .key("precision").value(m.precision)
        .key("recall").value(m.recall)
        .key("f1").value(m.f1)
        .key("support").value(m.support)
        .end_object();
  }
  j.end_array();
  j.end_object().end_object();
  return j.text();
}

// A classifier's metric (accuracy) with its diagnostics: logits float32
// [labels.size(), names.size()] against labels in [0, names.size()), one
// name per class. The one scoring of the built-in classification tasks.
inline Scored scored_classification(const torchexam_array& logits, const std::vector<int64_t>& labels,
                                    const std::vector<std::string>& names, const char* expected = "float32") {
  const ClassificationScore s =
      score_classification(logits, labels, static_cast<int64_t>(names.size()), expected);
  return {s.accuracy, classification_diagnostics_json(s, names)};
}

// The diagnostics' residual histogram: residuals (prediction - target)
// counted in kResidualBins equal bins over [-m, m], m the largest
// |residual| rounded up to 1, 2, 2.5 or 5 times a power of ten (1 when every
// residual is 0); a residual of exactly m falls in the last bin.
inline constexpr int kResidualBins = 20;

struct ResidualHistogram {
  std::vector<double> edges;    // kResidualBins + 1, ascending
  std::vector<int64_t> counts;  // kResidualBins
};

// Requires finite residuals (std::invalid_argument otherwise).
inline ResidualHistogram residual_histogram(const std::vector<double>& residuals) {
  double largest = 0;
  for (double r : residuals) {
    if (!std::isfinite(r)) throw std::invalid_argument("residual_histogram: a residual is not finite");
    largest = std::max(largest, std::fabs(r));
  }
  // m = mantissa * 10^exponent, the smallest such value >= largest.
  double mantissa = 1;
  int exponent = 0;
  if (largest > 0) {
    exponent = static_cast<int>(std::floor(std::log10(largest)));
    const double unit = std::pow(10.0, exponent);
    mantissa = 10;
    for (double candidate : {1.0, 2.0, 2.5, 5.0, 10.0}) {
      if (candidate * unit >= largest) {
        mantissa = candidate;
        break;
      }
    }
    if (mantissa == 10) {  // log10 rounded down a power of ten
      mantissa = 1;
      ++exponent;
    }
  }
  // Edge i is (i - bins/2) * mantissa * 10^exponent / (bins/2): for bins 20,
  // whole multiples of mantissa / 10 times a power of ten, computed so that
  // each is the double nearest its decimal value.
  constexpr int half = kResidualBins / 2;
  const auto edge = [&](int i) {
    const double steps = static_cast<double>(i - half) * mantissa;  // exact
    const int e = exponent - 1;  // half == 10: one decimal place down
    return e >= 0 ? steps * std::pow(10.0, e) : steps / std::pow(10.0, -e);
  };
  static_assert(half == 10, "edge() assumes ten bins each side of 0");
  ResidualHistogram h;
  for (int i = 0; i <= kResidualBins; ++i) h.edges.push_back(edge(i));
  h.counts.assign(kResidualBins, 0);
  const double m = h.edges.back();
  for (double r : residuals) {
    auto bin = static_cast<int64_t>(std::floor((r + m) / (2 * m) * kResidualBins));
    bin = std::clamp<int64_t>(bin, 0, kResidualBins - 1);
    // Floating point may put a residual on an edge's wrong side: move it.
    while (bin > 0 && r < h.edges[static_cast<size_t>(bin)]) --bin;
    while (bin + 1 < kResidualBins && r >= h.edges[static_cast<size_t>(bin + 1)]) ++bin;
    ++h.counts[static_cast<size_t>(bin)];
  }
  return h;
}

// The MAE per range of hidden targets: the targets sorted (ties by
// position), cut into at most kTargetRanges runs of equal count (sizes
// differ by at most one), fewer when there are too few targets for each run
// to hold kMinRangeCount; none below kMinRangeCount targets. `low` and
// `high` are the smallest and largest target of a run.
inline constexpr size_t kTargetRanges = 10;
inline constexpr size_t kMinRangeCount = 5;

struct TargetRangeError {
  double low = 0;
  double high = 0;
  int64_t count = 0;
  double mae = 0;
};

// `predictions` and `targets` of the same length, finite.
inline std::vector<TargetRangeError> mae_by_target_range(const std::vector<double>& predictions,
                                                         const std::vector<double>& targets) {
  if (predictions.size() != targets.size())
    throw std::invalid_argument("mae_by_target_range: " + std::to_string(predictions.size()) + " predictions for " +
                                std::to_string(targets.size()) + " targets");
  const size_t n = targets.size();
  const size_t ranges = std::min(kTargetRanges, n / kMinRangeCount);
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return targets[a] < targets[b]; });
  std::vector<TargetRangeError> out;
  for (size_t g = 0; g < ranges; ++g) {
    const size_t begin = g * n / ranges, end = (g + 1) * n / ranges;
    TargetRangeError r;
    r.low = targets[order[begin]];
    r.high = targets[order[end - 1]];
    r.count = static_cast<int64_t>(end - begin);
    double sum = 0;
    for (size_t k = begin; k < end; ++k) sum += std::fabs(predictions[order[k]] - targets[order[k]]);
    r.mae = sum / static_cast<double>(end - begin);
    out.push_back(r);
  }
  return out;
}

namespace detail {
inline void write_histogram(JsonText& j, const ResidualHistogram& h) {
  j.begin_object().key("edges").array(h.edges).key("counts").array(h.counts).end_object();
}

// The predictions as doubles, or nothing when one is not finite.
inline bool finite_values(const torchexam_array& predictions, size_t n, std::vector<double>& out) {
  const auto* p = static_cast<const float*>(predictions.data);
  out.assign(p, p + n);
  return std::all_of(out.begin(), out.end(), [](double v) { return std::isfinite(v); });
}
}  // namespace detail

// A one-output regression's metric (the MAE) with its diagnostics:
// predictions float32 [targets.size(), 1] against the hidden targets.
inline Scored scored_regression(const torchexam_array& predictions, const std::vector<double>& targets) {
  Scored out{score_mean_absolute_error(predictions, targets, 1).mae, {}};
  std::vector<double> p;
  if (!detail::finite_values(predictions, targets.size(), p)) return out;
  std::vector<double> residuals(p.size());
  for (size_t i = 0; i < p.size(); ++i) residuals[i] = p[i] - targets[i];
  JsonText j;
  j.begin_object().key("kind").value("regression").key("regression").begin_object();
  j.key("by_target_range").begin_array();
  for (const TargetRangeError& r : mae_by_target_range(p, targets))
    j.begin_object().key("low").value(r.low).key("high").value(r.high).key("count").value(r.count)
        .key("mae").value(r.mae).end_object();
  j.end_array();
  j.key("residuals");
  detail::write_histogram(j, residual_histogram(residuals));
  j.end_object().end_object();
  out.diagnostics_json = j.text();
  return out;
}

// A forecast's metric (the MAE over every step) with its diagnostics:
// predictions float32 [N, steps] against N * steps hidden targets in
// row-major order (step 1 first); `step_unit` names a step ("week").
inline Scored scored_forecast(const torchexam_array& predictions, const std::vector<double>& targets, int64_t steps,
                              std::string_view step_unit) {
  const RegressionScore s = score_mean_absolute_error(predictions, targets, steps);
  Scored out{s.mae, {}};
  std::vector<double> p;
  if (!detail::finite_values(predictions, targets.size(), p)) return out;
  std::vector<double> residuals(p.size());
  for (size_t i = 0; i < p.size(); ++i) residuals[i] = p[i] - targets[i];
  JsonText j;
  j.begin_object().key("kind").value("forecast").key("forecast").begin_object();
  j.key("step_unit").value(step_unit);
  j.key("mae_per_step").array(s.mae_per_output);
  j.key("residuals");
  detail::write_histogram(j, residual_histogram(residuals));
  j.end_object().end_object();
  out.diagnostics_json = j.text();
  return out;
}

}  // namespace torchexam
