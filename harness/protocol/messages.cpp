#include "protocol/messages.hpp"

#include "doctor/check.hpp"
#include "doctor/forecast.hpp"
#include "grading/grade_json.hpp"

#include <cmath>

namespace torchexam::protocol {

StartParams from_json(const json::value& v, StartParams*) {
  Fields f(v);
  f.only({"environment", "workspace", "mode", "duration_s", "overwrite"});
  StartParams p;
  p.environment = f.string("environment");
  p.workspace = f.string("workspace");
  p.mode = f.opt_string("mode").value_or("practice");
  p.duration_s = f.opt_number("duration_s");
  p.overwrite = f.opt_bool("overwrite").value_or(false);
  return p;
}

VerifyParams from_json(const json::value& v, VerifyParams*) {
  Fields f(v);
  f.only({"environment"});
  VerifyParams p;
  p.environment = f.string("environment");
  return p;
}

SessionParams from_json(const json::value& v, SessionParams*) {
  Fields f(v);
  f.only({"session", "workspace"});
  return {f.opt_string("session").value_or(""), f.opt_string("workspace").value_or("")};
}

SubmitParams from_json(const json::value& v, SubmitParams*) {
  Fields f(v);
  f.only({"session", "workspace", "task", "file"});
  SubmitParams p;
  p.session = f.opt_string("session").value_or("");
  p.workspace = f.opt_string("workspace").value_or("");
  p.task = f.string("task");
  p.file = f.opt_string("file").value_or("solution.cpp");
  return p;
}

SubmissionListParams from_json(const json::value& v, SubmissionListParams*) {
  Fields f(v);
  f.only({"session", "workspace", "task"});
  return {f.opt_string("session").value_or(""), f.opt_string("workspace").value_or(""),
          f.opt_string("task").value_or("")};
}

SubmissionParams from_json(const json::value& v, SubmissionParams*) {
  Fields f(v);
  f.only({"submission", "include_source"});
  return {f.integer("submission"), f.opt_bool("include_source").value_or(false)};
}

EmptyParams from_json(const json::value& v, EmptyParams*) {
  Fields f(v);
  f.only({});
  return {};
}

namespace {
json::value opt(const std::optional<int64_t>& v) { return v ? json::value(*v) : json::value(nullptr); }
// JSON has no NaN or infinity: they go out as null.
json::value real(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }
json::value opt(const std::optional<double>& v) { return v ? real(*v) : json::value(nullptr); }
json::value opt(const std::optional<std::string>& v) { return v ? json::value(*v) : json::value(nullptr); }

json::value parse_or_null(const std::string& text) {
  json::error_code ec;
  json::value v = json::parse(text, ec);
  return ec ? json::value(nullptr) : v;
}
}  // namespace

json::value to_json(const TaskSummary& t) {
  json::array ladder;
  for (double x : t.ladder) ladder.push_back(x);
  return json::object{{"id", t.id},
                      {"title", t.title},
                      {"metric", t.metric},
                      {"ladder", std::move(ladder)},
                      {"time_budget_s", t.time_budget_s},
                      {"folder", t.folder.string()},
                      {"best_score", t.best_score},
                      {"best_submission", opt(t.best_submission)},
                      {"last_verdict", t.last_verdict},
                      {"submissions", t.submissions},
                      {"diagnostics", torchexam::to_json(t.diagnostics)}};
}

namespace {
json::array checks_json(const std::vector<doctor::CheckResult>& checks) {
  json::array out;
  for (const auto& c : checks) out.push_back(doctor::to_json(c));
  return out;
}
}  // namespace

json::value to_json(const ExamSummary& s) {
  json::array tasks, queue;
  for (const auto& t : s.tasks) tasks.push_back(to_json(t));
  for (const auto& q : s.queue)
    queue.push_back(json::object{{"submission", q.submission}, {"task", q.task}, {"state", q.state},
                                 {"position", q.position}});
  return json::object{{"session", s.session.id},
                      {"environment", s.session.environment_dir},
                      {"workspace", s.session.workspace},
                      {"mode", s.session.mode},
                      {"state", s.session.state},
                      {"started_at_ms", s.session.started_at_ms},
                      {"deadline_ms", s.deadline_ms},
                      {"remaining_s", s.remaining_s},
                      {"tasks", std::move(tasks)},
                      {"queue", std::move(queue)},
                      {"total_score", s.total_score},
                      {"pass_mark", s.pass_mark},
                      {"passed", s.passed},
                      {"checks", checks_json(s.checks)}};
}

json::value to_json(const VerifyReport& r) {
  json::array forecasts;
  for (const auto& f : r.forecasts) forecasts.push_back(doctor::to_json(f));
  return json::object{{"environment", r.environment.string()},
                      {"ok", r.ok},
                      {"checks", checks_json(r.checks)},
                      {"forecasts", std::move(forecasts)}};
}

json::value to_json(const store::SubmissionRecord& r, int queue_position) {
  return json::object{{"submission", r.id},
                      {"session", r.session_id},
                      {"task", r.task},
                      {"file", r.source_name},
                      {"source_hash", r.source_hash},
                      {"submitted_at_ms", r.submitted_at_ms},
                      {"state", r.state},
                      {"queue_position", queue_position},
                      {"verdict", opt(r.verdict)},
                      {"metric", opt(r.metric)},
                      {"score", r.score},
                      {"message", r.message},
                      {"detail", r.detail},
                      {"finished_at_ms", opt(r.finished_at_ms)},
                      {"attempts", r.attempts},
                      {"result", parse_or_null(r.result_json)},
                      {"curve", parse_or_null(r.curve_json)}};
}

json::value to_json(const RestoreResult& r) {
  return json::object{{"file", r.file.string()},
                      {"previous_hash", r.previous_hash},
                      {"previous_copy", r.previous_copy.string()}};
}

json::value to_json(const ProgressNote& n) {
  json::object o{{"session", n.session},
                 {"submission", n.submission},
                 {"task", n.task},
                 {"stage", n.stage},
                 {"queue_position", n.queue_position}};
  if (n.progress) {
    const auto& p = *n.progress;
    json::object metrics;
    for (const auto& [k, v] : p.metrics) metrics[k] = real(v);
    o["kind"] = p.kind == events::Progress::Kind::batch ? "batch" : "epoch";
    o["epoch"] = p.epoch;
    o["epochs"] = p.epochs;
    o["batch"] = p.batch;
    o["batches"] = p.batches;
    o["loss"] = real(p.loss);
    o["metrics"] = std::move(metrics);
    o["samples_per_s"] = real(p.samples_per_s);
    o["eta_s"] = real(p.eta_s);
    o["budget_left_s"] = real(p.budget_left_s);
    o["elapsed_s"] = real(p.elapsed_s);
  }
  return o;
}

json::value finished_note(const store::SubmissionRecord& r) {
  return json::object{{"session", r.session_id}, {"submission", r.id},       {"task", r.task},
                      {"state", r.state},        {"verdict", opt(r.verdict)}, {"metric", opt(r.metric)},
                      {"score", r.score},        {"message", r.message}};
}

json::value timer_note(const store::SessionRecord& s, double remaining_s, std::optional<int> warning) {
  return json::object{{"session", s.id},
                      {"remaining_s", real(remaining_s)},
                      {"warning_minutes", warning ? json::value(*warning) : json::value(nullptr)}};
}

json::value closed_note(const store::SessionRecord& s) {
  return json::object{{"session", s.id}, {"closed_at_ms", opt(s.closed_at_ms)}, {"state", s.state}};
}

json::value diagnostics_note(const std::string& session, const std::string& task, const std::string& file,
                             const std::vector<Diagnostic>& diagnostics) {
  return json::object{{"session", session}, {"task", task}, {"file", file},
                      {"diagnostics", torchexam::to_json(diagnostics)}};
}

}  // namespace torchexam::protocol
