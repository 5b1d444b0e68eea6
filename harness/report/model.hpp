// model.hpp — the report of `torchexam report`: what it shows of one
// submission, every submission of a task, or a whole exam session, built
// from what the daemon sends (protocol::ReportData, report/data) and
// nothing else: no runner, no store, no clock.
//
// build_report() decides what is shown; render.hpp draws it as HTML and
// boost::json::value_from(Report) gives the same data as JSON (`torchexam
// report --json`). Both are functions of the data alone: no "now", no
// locale, so the same data gives the same bytes (times are shown in UTC).
//
// What it computes:
// - the score on the task's ladder: the six bands (score 0..5) with their
//   metric ranges, where the metric lands, the next band and how far the
//   metric is from it (a ladder is strictly increasing when a higher metric
//   is better, decreasing when lower is, config/task_schema.cpp);
// - training: the loss of every batch note (the runner reports at most
//   every 0.5 s) and its exponential moving average (kSmoothing, as
//   TensorBoard's smoothing slider), each epoch's mean loss, ctx.metric()
//   values and samples/s, and the training time used against the budget;
// - the session: best score per task, total against the pass mark, and a
//   timeline of every finished submission's score against exam time (time
//   since the start; time left is to the session's deadline as the daemon
//   reports it, pauses included).
// Task diagnostics are kept only when `diagnostics_visible` holds (the
// session's rule, exam/report_visibility.hpp) and the result carries them.
//
// Failure: none; missing pieces (no result, no curve, no events) leave the
// matching optional empty. Threads: none shared.
#pragma once

#include "grading/fingerprint.hpp"
#include "grading/task_diagnostics.hpp"
#include "protocol/messages.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::report {

// The weight of the previous average in the smoothed loss.
inline constexpr double kSmoothing = 0.9;

struct Band {
  int score = 0;
  std::optional<double> low, high;  // the metric range; an open end is empty
  friend bool operator==(const Band&, const Band&) = default;
};

struct LadderView {
  std::string metric_name;
  bool higher_is_better = true;
  std::vector<double> thresholds;
  std::vector<Band> bands;  // score 0 first
  std::optional<double> metric;
  int score = 0;
  std::optional<int> next_score;         // the next band up; empty at 5/5 or without a metric
  std::optional<double> next_threshold;  // the metric that band needs
  std::optional<double> to_next;         // |next_threshold - metric|
  friend bool operator==(const LadderView&, const LadderView&) = default;
};

struct LossPoint {
  int64_t step = 0;  // the batch note's number, from 1
  int epoch = 0;
  double loss = 0;      // NaN when the runner sent null
  double smoothed = 0;  // NaN until the first finite loss
  friend bool operator==(const LossPoint&, const LossPoint&) = default;
};

struct EpochPoint {
  int epoch = 0;
  double loss = 0;
  double elapsed_s = 0;
  std::optional<double> samples_per_s;
  std::map<std::string, double> metrics;  // ctx.metric() values of this epoch
  friend bool operator==(const EpochPoint&, const EpochPoint&) = default;
};

struct TrainingView {
  std::vector<LossPoint> loss;
  std::vector<EpochPoint> epochs;
  std::vector<std::string> metric_names;  // every ctx.metric() name seen, sorted
  double time_used_s = 0;
  double budget_s = 0;
  friend bool operator==(const TrainingView&, const TrainingView&) = default;
};

struct SubmissionView {
  int64_t id = 0;
  std::string task;
  std::string task_title;
  std::string file;
  std::string state;
  std::string verdict;  // "" before a verdict
  bool failed = false;  // a verdict other than ok
  int score = 0;
  std::string message;
  std::string detail;
  std::vector<Diagnostic> diagnostics;  // compiler and contract diagnostics
  int64_t submitted_at_ms = 0;
  double exam_time_s = 0;
  double time_left_s = 0;
  LadderView ladder;
  std::optional<TrainingView> training;
  std::optional<TaskDiagnostics> task_diagnostics;
  bool task_diagnostics_hidden = false;  // there were some, and the policy hides them
  std::optional<Fingerprint> fingerprint;
  friend bool operator==(const SubmissionView&, const SubmissionView&) = default;
};

// One submission as the tables and the timeline show it.
struct HistoryRow {
  int64_t id = 0;
  std::string task;
  std::string state;
  std::string verdict;
  std::optional<double> metric;
  int score = 0;
  double exam_time_s = 0;
  double time_left_s = 0;
  std::string message;
  friend bool operator==(const HistoryRow&, const HistoryRow&) = default;
};

struct TaskRow {
  std::string id;
  std::string title;
  std::string metric;
  int best_score = 0;
  std::optional<int64_t> best_submission;
  int submissions = 0;
  std::string last_verdict;
  friend bool operator==(const TaskRow&, const TaskRow&) = default;
};

struct SessionView {
  std::string id;
  std::string environment;
  std::string workspace;
  std::string mode;
  std::string state;
  int64_t started_at_ms = 0;
  int64_t deadline_ms = 0;
  double duration_s = 0;  // deadline - start
  std::vector<TaskRow> tasks;
  int total_score = 0;
  int max_score = 0;
  int pass_mark = 0;
  bool passed = false;
  friend bool operator==(const SessionView&, const SessionView&) = default;
};

struct Report {
  std::string scope;  // "submission", "task", "session"
  std::string title;
  std::string task;   // the task of a "task" report
  SessionView session;
  std::vector<HistoryRow> history;  // every submission in scope, by id
  std::vector<SubmissionView> submissions;  // the ones drawn in full
  bool diagnostics_visible = true;
  friend bool operator==(const Report&, const Report&) = default;
};

Report build_report(const protocol::ReportData& data);

// The ladder of `task` around `metric` (exposed for tests).
LadderView ladder_view(const TaskSummary& task, std::optional<double> metric, int score);
// Loss and epochs from the progress events and the stored curve.
TrainingView training_view(const std::vector<events::Progress>& events, const std::vector<CurvePoint>& curve,
                           double budget_s, double train_s);

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Band& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const LadderView& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const LossPoint& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const EpochPoint& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const TrainingView& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const SubmissionView& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const HistoryRow& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const TaskRow& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const SessionView& x);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Report& x);

}  // namespace torchexam::report
