#include "report/model.hpp"

#include "base/json_shape.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <set>

namespace torchexam::report {
namespace json = boost::json;
using json_shape::write;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// A string from a job or the candidate, made valid UTF-8 for the JSON.
json::value text(const std::string& s) { return json::value(to_valid_utf8(s)); }

const TaskSummary* find_task(const protocol::ExamStatus& st, const std::string& id) {
  for (const auto& t : st.tasks)
    if (t.id == id) return &t;
  return nullptr;
}

template <class T>
const T* find_by_submission(const std::vector<T>& list, int64_t id) {
  for (const auto& x : list)
    if (x.submission == id) return &x;
  return nullptr;
}

double exam_time_s(const protocol::ExamStatus& st, int64_t at_ms) {
  return std::max<double>(0, static_cast<double>(at_ms - st.started_at_ms) / 1000.0);
}

double time_left_s(const protocol::ExamStatus& st, int64_t at_ms) {
  return std::max<double>(0, static_cast<double>(st.deadline_ms - at_ms) / 1000.0);
}

SubmissionView submission_view(const protocol::ReportData& data, const protocol::Submission& s) {
  const auto& st = data.status;
  SubmissionView v;
  v.id = s.submission;
  v.task = s.task;
  v.file = s.file;
  v.state = std::string(to_string(s.state));
  v.verdict = s.verdict.value_or("");
  v.failed = !v.verdict.empty() && v.verdict != "ok";
  v.score = s.score;
  v.message = s.message;
  v.detail = s.detail;
  v.submitted_at_ms = s.submitted_at_ms;
  v.exam_time_s = exam_time_s(st, s.submitted_at_ms);
  v.time_left_s = time_left_s(st, s.submitted_at_ms);
  const TaskSummary* task = find_task(st, s.task);
  TaskSummary none;
  none.id = s.task;
  if (!task) task = &none;
  v.task_title = task->title;
  v.ladder = ladder_view(*task, s.metric, s.score);
  double train_s = 0;
  if (s.result) {
    const GradeResult& g = s.result->grade;
    v.diagnostics = g.diagnostics;
    if (!g.metric_name.empty()) v.ladder.metric_name = g.metric_name;
    train_s = g.timings.train_s;
    if (g.task_diagnostics) {
      if (data.diagnostics_visible) v.task_diagnostics = g.task_diagnostics;
      else v.task_diagnostics_hidden = true;
    }
    v.fingerprint = g.fingerprint;
  }
  if (!data.diagnostics_visible) v.task_diagnostics_hidden = true;
  const auto* progress = find_by_submission(data.progress, s.submission);
  const std::vector<events::Progress> no_events;
  const auto& events = progress ? progress->events : no_events;
  const std::vector<CurvePoint> no_curve;
  const auto& curve = s.curve ? *s.curve : no_curve;
  if (!events.empty() || !curve.empty()) v.training = training_view(events, curve, task->time_budget_s, train_s);
  return v;
}

}  // namespace

LadderView ladder_view(const TaskSummary& task, std::optional<double> metric, int score) {
  LadderView v;
  v.metric_name = task.metric;
  v.thresholds = task.ladder;
  const auto& t = v.thresholds;
  const size_t n = t.size();
  v.higher_is_better = n < 2 || t.front() < t.back();
  if (metric && !std::isfinite(*metric)) metric.reset();
  v.metric = metric;
  v.score = score;
  for (size_t k = 0; k <= n && n > 0; ++k) {
    Band b;
    b.score = static_cast<int>(k);
    // Score k needs thresholds 1..k and misses k+1.
    std::optional<double> reached = k > 0 ? std::optional<double>(t[k - 1]) : std::nullopt;
    std::optional<double> missed = k < n ? std::optional<double>(t[k]) : std::nullopt;
    if (v.higher_is_better) b.low = reached, b.high = missed;
    else b.low = missed, b.high = reached;
    v.bands.push_back(b);
  }
  if (metric) {
    size_t met = 0;
    while (met < n && (v.higher_is_better ? *metric >= t[met] : *metric <= t[met])) ++met;
    if (met < n) {
      v.next_score = static_cast<int>(met) + 1;
      v.next_threshold = t[met];
      v.to_next = std::abs(t[met] - *metric);
    }
  }
  return v;
}

TrainingView training_view(const std::vector<events::Progress>& events, const std::vector<CurvePoint>& curve,
                           double budget_s, double train_s) {
  TrainingView v;
  v.budget_s = budget_s;
  double smoothed = kNaN, used = 0;
  std::map<int, double> epoch_rate;  // epoch -> samples/s of its epoch note
  std::set<std::string> names;
  for (const auto& e : events) {
    if (std::isfinite(e.elapsed_s)) used = std::max(used, e.elapsed_s);
    if (e.kind == events::Progress::Kind::epoch) {
      if (std::isfinite(e.samples_per_s) && e.samples_per_s > 0) epoch_rate[e.epoch] = e.samples_per_s;
      continue;
    }
    if (std::isfinite(e.loss)) smoothed = std::isnan(smoothed) ? e.loss : kSmoothing * smoothed + (1 - kSmoothing) * e.loss;
    v.loss.push_back({static_cast<int64_t>(v.loss.size()) + 1, e.epoch, std::isfinite(e.loss) ? e.loss : kNaN, smoothed});
  }
  if (!curve.empty()) {
    for (const auto& c : curve) {
      EpochPoint p{c.epoch, c.loss, c.elapsed_s, std::nullopt, c.metrics};
      if (auto it = epoch_rate.find(c.epoch); it != epoch_rate.end()) p.samples_per_s = it->second;
      if (std::isfinite(c.elapsed_s)) used = std::max(used, c.elapsed_s);
      v.epochs.push_back(std::move(p));
    }
  } else {  // no stored curve (an older record): the epoch notes
    for (const auto& e : events)
      if (e.kind == events::Progress::Kind::epoch)
        v.epochs.push_back({e.epoch, e.loss, e.elapsed_s,
                            std::isfinite(e.samples_per_s) && e.samples_per_s > 0 ? std::optional(e.samples_per_s)
                                                                                  : std::nullopt,
                            e.metrics});
  }
  for (const auto& p : v.epochs)
    for (const auto& [name, value] : p.metrics) names.insert(name);
  v.metric_names.assign(names.begin(), names.end());
  v.time_used_s = used > 0 ? used : train_s;
  return v;
}

Report build_report(const protocol::ReportData& data) {
  const auto& st = data.status;
  Report r;
  r.scope = data.scope;
  r.diagnostics_visible = data.diagnostics_visible;
  SessionView& s = r.session;
  s.id = st.session;
  s.environment = std::filesystem::path(st.environment).filename().string();
  s.workspace = st.workspace;
  s.mode = st.mode;
  s.state = std::string(to_string(st.state));
  s.started_at_ms = st.started_at_ms;
  s.deadline_ms = st.deadline_ms;
  s.duration_s = std::max<double>(0, static_cast<double>(st.deadline_ms - st.started_at_ms) / 1000.0);
  for (const auto& t : st.tasks)
    s.tasks.push_back({t.id, t.title, t.metric, t.best_score, t.best_submission, t.submissions, t.last_verdict});
  s.total_score = st.total_score;
  s.max_score = 5 * static_cast<int>(st.tasks.size());
  s.pass_mark = st.pass_mark;
  s.passed = st.passed;
  for (const auto& h : data.history)
    r.history.push_back({h.submission, h.task, std::string(to_string(h.state)), h.verdict.value_or(""), h.metric, h.score,
                         exam_time_s(st, h.submitted_at_ms), time_left_s(st, h.submitted_at_ms), h.message});
  for (const auto& d : data.details) r.submissions.push_back(submission_view(data, d));
  if (r.scope == "task") r.task = !data.history.empty() ? data.history.front().task : "";
  const std::string where = s.environment.empty() ? s.id : s.environment + ", session " + s.id;
  if (r.scope == "submission" && !r.submissions.empty())
    r.title = "Submission " + std::to_string(r.submissions.front().id) + " of " + r.submissions.front().task + " (" +
              where + ")";
  else if (r.scope == "task")
    r.title = "Every submission of " + (r.task.empty() ? std::string("a task") : r.task) + " (" + where + ")";
  else
    r.title = "Exam report (" + where + ")";
  return r;
}

// ---- JSON

void tag_invoke(json::value_from_tag, json::value& v, const Band& x) {
  v = {{"score", x.score}, {"low", write(x.low)}, {"high", write(x.high)}};
}

void tag_invoke(json::value_from_tag, json::value& v, const LadderView& x) {
  v = {{"metric_name", x.metric_name},       {"higher_is_better", x.higher_is_better},
       {"thresholds", write(x.thresholds)},  {"bands", write(x.bands)},
       {"metric", write(x.metric)},          {"score", x.score},
       {"next_score", write(x.next_score)},  {"next_threshold", write(x.next_threshold)},
       {"to_next", write(x.to_next)}};
}

void tag_invoke(json::value_from_tag, json::value& v, const LossPoint& x) {
  v = {{"step", x.step}, {"epoch", x.epoch}, {"loss", write(x.loss)}, {"smoothed", write(x.smoothed)}};
}

void tag_invoke(json::value_from_tag, json::value& v, const EpochPoint& x) {
  v = {{"epoch", x.epoch},
       {"loss", write(x.loss)},
       {"elapsed_s", write(x.elapsed_s)},
       {"samples_per_s", write(x.samples_per_s)},
       {"metrics", write(x.metrics)}};
}

void tag_invoke(json::value_from_tag, json::value& v, const TrainingView& x) {
  v = {{"loss", write(x.loss)},
       {"epochs", write(x.epochs)},
       {"metric_names", write(x.metric_names)},
       {"time_used_s", write(x.time_used_s)},
       {"budget_s", write(x.budget_s)}};
}

void tag_invoke(json::value_from_tag, json::value& v, const SubmissionView& x) {
  v = {{"submission", x.id},
       {"task", x.task},
       {"task_title", x.task_title},
       {"file", x.file},
       {"state", x.state},
       {"verdict", x.verdict},
       {"failed", x.failed},
       {"score", x.score},
       {"message", text(x.message)},
       {"detail", text(x.detail)},
       {"diagnostics", write(x.diagnostics)},
       {"submitted_at_ms", x.submitted_at_ms},
       {"exam_time_s", write(x.exam_time_s)},
       {"time_left_s", write(x.time_left_s)},
       {"ladder", write(x.ladder)},
       {"training", write(x.training)},
       {"task_diagnostics", write(x.task_diagnostics)},
       {"task_diagnostics_hidden", x.task_diagnostics_hidden},
       {"fingerprint", write(x.fingerprint)}};
}

void tag_invoke(json::value_from_tag, json::value& v, const HistoryRow& x) {
  v = {{"submission", x.id},       {"task", x.task},   {"state", x.state},
       {"verdict", x.verdict},     {"metric", write(x.metric)},
       {"score", x.score},         {"exam_time_s", write(x.exam_time_s)},
       {"time_left_s", write(x.time_left_s)}, {"message", text(x.message)}};
}

void tag_invoke(json::value_from_tag, json::value& v, const TaskRow& x) {
  v = {{"id", x.id},
       {"title", text(x.title)},
       {"metric", x.metric},
       {"best_score", x.best_score},
       {"best_submission", write(x.best_submission)},
       {"submissions", x.submissions},
       {"last_verdict", x.last_verdict}};
}

void tag_invoke(json::value_from_tag, json::value& v, const SessionView& x) {
  v = {{"session", x.id},
       {"environment", x.environment},
       {"workspace", x.workspace},
       {"mode", x.mode},
       {"state", x.state},
       {"started_at_ms", x.started_at_ms},
       {"deadline_ms", x.deadline_ms},
       {"duration_s", write(x.duration_s)},
       {"tasks", write(x.tasks)},
       {"total_score", x.total_score},
       {"max_score", x.max_score},
       {"pass_mark", x.pass_mark},
       {"passed", x.passed}};
}

void tag_invoke(json::value_from_tag, json::value& v, const Report& x) {
  v = {{"scope", x.scope},
       {"title", text(x.title)},
       {"task", x.task},
       {"diagnostics_visible", x.diagnostics_visible},
       {"session", write(x.session)},
       {"history", write(x.history)},
       {"submissions", write(x.submissions)}};
}

}  // namespace torchexam::report
