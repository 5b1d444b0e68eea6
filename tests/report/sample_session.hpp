// A realistic hand-made practice session as report/data sends it, for the
// report's unit tests (tests/unit/test_report.cpp, golden file
// tests/data/report/session.json) and for the browser test
// (tests/report/render_in_chromium.sh through report_sample): five tasks,
// a classification grading with its confusion matrix, a regression and a
// forecast with theirs, a compile error, and text from the candidate meant
// to break out of the HTML (and bytes that are not UTF-8).
#pragma once

#include "protocol/messages.hpp"

#include <cmath>
#include <string>
#include <vector>

namespace torchexam::test {

inline constexpr const char* kHostileText = "<script>alert(\"x\")</script> & 'q' \xff\xfe end";

inline TaskSummary sample_task(std::string id, std::string title, std::string metric, std::vector<double> ladder,
                               double budget_s, int best, std::optional<int64_t> best_submission, int submissions,
                               std::string last_verdict) {
  TaskSummary t;
  t.id = std::move(id);
  t.title = std::move(title);
  t.metric = std::move(metric);
  t.ladder = std::move(ladder);
  t.time_budget_s = budget_s;
  t.folder = "/home/ana/exam/" + t.id;
  t.best_score = best;
  t.best_submission = best_submission;
  t.submissions = submissions;
  t.last_verdict = std::move(last_verdict);
  return t;
}

inline Fingerprint sample_fingerprint(const std::string& source_sha) {
  Fingerprint f;
  f.harness_version = "0.9.0";
  f.source_sha256 = source_sha;
  f.seed = 42;
  f.threads = 2;
  f.deterministic = true;
  f.libtorch = {"1.13.1", true, "OpenMP"};
  f.blas = {"/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3", "0.3.21"};
  f.compiler = {"GNU", "12.2.0", {"-std=c++17", "-O2", "-fPIC"}};
  f.plugin = {"5f2b9c0e1d7a4e3b8c6d2f1a0b9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f10", 2};
  f.task_sha256 = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718293a4b5c6d7e8f90";
  f.data = {{"fashion-mnist", "0e1d2c3b4a5968778695a4b3c2d1e0f0e1d2c3b4a5968778695a4b3c2d1e0f0f"}};
  f.sandbox_layers = {"pid namespace", "seccomp"};
  return f;
}

// Training progress like the runner's: `epochs` epochs of `batches` batch
// notes with a decaying, noisy loss, then an epoch note each.
inline std::vector<events::Progress> sample_progress(int epochs, int batches, double start_loss, double rate) {
  std::vector<events::Progress> out;
  double elapsed = 0;
  for (int e = 1; e <= epochs; ++e) {
    double sum = 0;
    for (int b = 1; b <= batches; ++b) {
      const double t = (e - 1) * batches + b;
      const double loss = start_loss * std::exp(-t / (2.0 * batches)) + 0.05 * std::sin(t * 1.7) + 0.25;
      elapsed += 0.5;
      sum += loss;
      events::Progress p;
      p.kind = events::Progress::Kind::batch;
      p.epoch = e, p.epochs = epochs, p.batch = b * 40, p.batches = batches * 40;
      p.loss = loss;
      p.samples_per_s = rate + 10 * e;
      p.elapsed_s = elapsed;
      p.eta_s = (epochs * batches - t) * 0.5;
      p.budget_left_s = 600 - elapsed;
      out.push_back(p);
    }
    events::Progress p = out.back();
    p.kind = events::Progress::Kind::epoch;
    p.loss = sum / batches;
    p.metrics = {{"train_accuracy", 0.7 + 0.05 * e}, {"val_accuracy", 0.68 + 0.045 * e}};
    out.push_back(p);
  }
  return out;
}

inline std::vector<CurvePoint> curve_of(const std::vector<events::Progress>& events) {
  std::vector<CurvePoint> out;
  for (const auto& e : events)
    if (e.kind == events::Progress::Kind::epoch) out.push_back(curve_point(e));
  return out;
}

inline protocol::Submission sample_submission(int64_t id, std::string task, int64_t at_ms, std::string verdict,
                                              std::optional<double> metric, int score, std::string message) {
  protocol::Submission s;
  s.submission = id;
  s.session = "3f9c2a71b0e4";
  s.task = std::move(task);
  s.file = "solution.cpp";
  s.source_hash = std::string(64, static_cast<char>('a' + id % 6));
  s.submitted_at_ms = at_ms;
  s.state = SubmissionState::finished;
  s.verdict = verdict;
  s.metric = metric;
  s.score = score;
  s.message = std::move(message);
  s.finished_at_ms = at_ms + 95000;
  s.attempts = 1;
  GradeRecord r;
  r.grade.verdict = verdict == "ok" ? Verdict::ok : Verdict::compile_error;
  r.grade.score = score;
  r.grade.metric = metric;
  r.grade.message = s.message;
  r.grade.backend = "local";
  r.grade.timings.train_s = 95;
  s.result = r;
  return s;
}

inline protocol::ReportData sample_session() {
  protocol::ReportData d;
  d.scope = "session";
  auto& st = d.status;
  st.session = "3f9c2a71b0e4";
  st.environment = "/usr/local/share/torchexam/environments/practice";
  st.workspace = "/home/ana/exam";
  st.mode = "practice";
  st.state = SessionState::closed;
  st.started_at_ms = 1772445600000;         // 2026-03-02 10:00:00 UTC
  st.deadline_ms = 1772445600000 + 18000000;  // 5 h
  st.tasks = {
      sample_task("regression", "Fuel economy from car features", "mae", {4.0, 3.0, 2.5, 2.1, 1.85}, 120, 3, 4, 1, "ok"),
      sample_task("fashion_mnist", "Fashion-MNIST clothing", "accuracy", {0.78, 0.82, 0.85, 0.89, 0.91}, 600, 3, 2, 2,
                  "ok"),
      sample_task("real_world_images", "Animals among Tux Paint stamps", "accuracy", {0.62, 0.70, 0.76, 0.80, 0.83},
                  180, 0, std::nullopt, 0, ""),
      sample_task("text_classification", "Spam or ham", "accuracy", {0.80, 0.88, 0.94, 0.955, 0.965}, 180, 0,
                  std::nullopt, 1, "compile_error"),
      sample_task("time_series", "Mauna Loa CO2, 13 weeks ahead", "mae", {1.6, 1.1, 0.8, 0.55, 0.45}, 180, 4, 5, 1,
                  "ok"),
  };
  st.total_score = 10;
  st.pass_mark = 15;
  st.passed = false;

  const int64_t t0 = st.started_at_ms;
  // 1: fashion_mnist, a first try; 2: its better one (with diagnostics).
  auto s1 = sample_submission(1, "fashion_mnist", t0 + 1200000, "ok", 0.8123, 1,
                              "accuracy 0.8123 on the hidden test data: score 1/5");
  auto s2 = sample_submission(2, "fashion_mnist", t0 + 3900000, "ok", 0.8731, 3,
                              "accuracy 0.8731 on the hidden test data: score 3/5");
  const auto p2 = sample_progress(4, 30, 1.6, 3800);
  s2.curve = curve_of(p2);
  s2.result->grade.metric_name = "accuracy";
  s2.result->grade.fingerprint = sample_fingerprint(s2.source_hash);
  ClassificationDiagnostics c;
  c.accuracy = 0.8731;
  c.classes = {"T-shirt", "Trouser", "Pullover", "Dress", "Coat"};
  c.confusion = {{850, 5, 40, 60, 45}, {4, 970, 6, 15, 5}, {30, 2, 800, 18, 150}, {40, 20, 15, 900, 25},
                 {10, 3, 120, 40, 827}};
  for (size_t k = 0; k < c.classes.size(); ++k) {
    int64_t col = 0, row = 0;
    for (size_t j = 0; j < c.classes.size(); ++j) col += c.confusion[j][k], row += c.confusion[k][j];
    const double p = static_cast<double>(c.confusion[k][k]) / static_cast<double>(col);
    const double r = static_cast<double>(c.confusion[k][k]) / static_cast<double>(row);
    c.per_class.push_back({c.classes[k], p, r, 2 * p * r / (p + r), row});
  }
  s2.result->grade.task_diagnostics = TaskDiagnostics{"classification", c, std::nullopt, std::nullopt};

  // 3: text_classification, a compile error whose message carries the candidate's text.
  auto s3 = sample_submission(3, "text_classification", t0 + 6000000, "compile_error", std::nullopt, 0,
                              std::string("solution.cpp:12:5: 'optimizer' was not declared in this scope ") + kHostileText);
  s3.result->grade.diagnostics = {{"error", "solution.cpp", 12, 5, "'optimizer' was not declared in this scope"},
                                  {"note", "solution.cpp", 3, 1, std::string("in ") + kHostileText}};
  s3.result->grade.detail = "g++ -std=c++17 -O2 ... (1 error)";
  s3.curve = std::vector<CurvePoint>{};

  // 4: regression; 5: time_series, each with its diagnostics.
  auto s4 = sample_submission(4, "regression", t0 + 8100000, "ok", 2.3412, 3, "mae 2.3412 on the hidden test data: score 3/5");
  const auto p4 = sample_progress(3, 12, 40, 9000);
  s4.curve = curve_of(p4);
  s4.result->grade.metric_name = "mae";
  RegressionDiagnostics g;
  const double lows[] = {9, 13, 15, 17, 19.5, 22, 24.5, 27, 30, 34};
  for (int i = 0; i < 10; ++i)
    g.by_target_range.push_back({lows[i], i < 9 ? lows[i + 1] : 46.6, 8, 1.4 + 0.25 * i + (i == 9 ? 1.5 : 0)});
  g.residuals = {{-8, -6, -4, -2, 0, 2, 4, 6, 8}, {1, 3, 9, 24, 27, 11, 3, 1}};
  s4.result->grade.task_diagnostics = TaskDiagnostics{"regression", std::nullopt, g, std::nullopt};

  auto s5 = sample_submission(5, "time_series", t0 + 12600000, "ok", 0.5012, 4, "mae 0.5012 on the hidden test data: score 4/5");
  const auto p5 = sample_progress(5, 8, 3, 25000);
  s5.curve = curve_of(p5);
  s5.result->grade.metric_name = "mae";
  ForecastDiagnostics f;
  f.step_unit = "week";
  for (int i = 1; i <= 13; ++i) f.mae_per_step.push_back(0.31 + 0.03 * i);
  f.residuals = {{-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2}, {2, 9, 30, 81, 77, 35, 10, 3}};
  s5.result->grade.task_diagnostics = TaskDiagnostics{"forecast", std::nullopt, std::nullopt, f};

  for (const auto* s : {&s1, &s2, &s3, &s4, &s5}) d.history.push_back(*s);
  // The session's report draws each task's best in full.
  d.details = {s4, s2, s3, s5};
  d.progress = {{4, p4}, {2, p2}, {3, {}}, {5, p5}};
  return d;
}

}  // namespace torchexam::test
