#include "protocol/messages.hpp"

#include "protocol/read_name.hpp"

#include "base/json_shape.hpp"
#include "doctor/check.hpp"
#include "doctor/forecast.hpp"

namespace torchexam::protocol {
using json_shape::Object;
using json_shape::ShapeError;
using json_shape::write;

namespace {

// Sets `key` only when `value` differs from the default a reader assumes.
template <class T>
void unless_default(json::object& o, const char* key, const T& value, const T& fallback = T{}) {
  if (value != fallback) o[key] = write(value);
}


}  // namespace

// ---- Params

void tag_invoke(json::value_from_tag, json::value& v, const StartParams& p) {
  json::object o{{"environment", p.environment}, {"workspace", p.workspace}, {"mode", p.mode}, {"overwrite", p.overwrite}};
  if (p.duration_s) o["duration_s"] = write(*p.duration_s);
  v = std::move(o);
}

StartParams tag_invoke(json::value_to_tag<StartParams>, const json::value& v) {
  const Object o(v);
  o.only({"environment", "workspace", "mode", "duration_s", "overwrite"});
  return {o.required<std::string>("environment"), o.required<std::string>("workspace"),
          o.optional<std::string>("mode", "practice"), o.optional<std::optional<double>>("duration_s"),
          o.optional<bool>("overwrite")};
}

void tag_invoke(json::value_from_tag, json::value& v, const SessionParams& p) {
  json::object o;
  unless_default(o, "session", p.session);
  unless_default(o, "workspace", p.workspace);
  v = std::move(o);
}

SessionParams tag_invoke(json::value_to_tag<SessionParams>, const json::value& v) {
  const Object o(v);
  o.only({"session", "workspace"});
  return {o.optional<std::string>("session"), o.optional<std::string>("workspace")};
}

void tag_invoke(json::value_from_tag, json::value& v, const SubmitParams& p) {
  json::object o;
  unless_default(o, "session", p.session);
  unless_default(o, "workspace", p.workspace);
  o["task"] = p.task;
  o["file"] = p.file;
  v = std::move(o);
}

SubmitParams tag_invoke(json::value_to_tag<SubmitParams>, const json::value& v) {
  const Object o(v);
  o.only({"session", "workspace", "task", "file"});
  return {o.optional<std::string>("session"), o.optional<std::string>("workspace"), o.required<std::string>("task"),
          o.optional<std::string>("file", "solution.cpp")};
}

void tag_invoke(json::value_from_tag, json::value& v, const SubmissionListParams& p) {
  json::object o;
  unless_default(o, "session", p.session);
  unless_default(o, "workspace", p.workspace);
  unless_default(o, "task", p.task);
  v = std::move(o);
}

SubmissionListParams tag_invoke(json::value_to_tag<SubmissionListParams>, const json::value& v) {
  const Object o(v);
  o.only({"session", "workspace", "task"});
  return {o.optional<std::string>("session"), o.optional<std::string>("workspace"), o.optional<std::string>("task")};
}

void tag_invoke(json::value_from_tag, json::value& v, const SubmissionParams& p) {
  json::object o{{"submission", p.submission}};
  unless_default(o, "include_source", p.include_source);
  v = std::move(o);
}

SubmissionParams tag_invoke(json::value_to_tag<SubmissionParams>, const json::value& v) {
  const Object o(v);
  o.only({"submission", "include_source"});
  return {o.required<int64_t>("submission"), o.optional<bool>("include_source")};
}

void tag_invoke(json::value_from_tag, json::value& v, const VerifyParams& p) {
  v = json::object{{"environment", p.environment}};
}

VerifyParams tag_invoke(json::value_to_tag<VerifyParams>, const json::value& v) {
  const Object o(v);
  o.only({"environment"});
  return {o.required<std::string>("environment")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Empty&) { v = json::object(); }

Empty tag_invoke(json::value_to_tag<Empty>, const json::value& v) {
  Object(v).only({});
  return {};
}

// ---- Results

ExamStatus exam_status(const ExamSummary& s) {
  return {s.session.id, s.session.environment_dir, s.session.workspace, s.session.mode, state_of(s.session),
          s.session.started_at_ms, s.deadline_ms, s.remaining_s, s.tasks, s.queue, s.total_score, s.pass_mark,
          s.passed, s.checks};
}

void tag_invoke(json::value_from_tag, json::value& v, const ExamStatus& s) {
  v = json::object{{"session", s.session},
                   {"environment", s.environment},
                   {"workspace", s.workspace},
                   {"mode", s.mode},
                   {"state", write(s.state)},
                   {"started_at_ms", s.started_at_ms},
                   {"deadline_ms", s.deadline_ms},
                   {"remaining_s", write(s.remaining_s)},
                   {"tasks", write(s.tasks)},
                   {"queue", write(s.queue)},
                   {"total_score", s.total_score},
                   {"pass_mark", s.pass_mark},
                   {"passed", s.passed},
                   {"checks", write(s.checks)}};
}

ExamStatus tag_invoke(json::value_to_tag<ExamStatus>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("session"),
          o.required<std::string>("environment"),
          o.required<std::string>("workspace"),
          o.required<std::string>("mode"),
          o.required<SessionState>("state"),
          o.required<int64_t>("started_at_ms"),
          o.required<int64_t>("deadline_ms"),
          o.required<double>("remaining_s"),
          o.required<std::vector<TaskSummary>>("tasks"),
          o.required<std::vector<QueueItem>>("queue"),
          o.required<int>("total_score"),
          o.required<int>("pass_mark"),
          o.required<bool>("passed"),
          o.optional<std::vector<doctor::CheckResult>>("checks")};
}

void tag_invoke(json::value_from_tag, json::value& v, const TaskList& l) { v = {{"tasks", write(l.tasks)}}; }

TaskList tag_invoke(json::value_to_tag<TaskList>, const json::value& v) {
  return {Object(v).required<std::vector<TaskSummary>>("tasks")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Submitted& s) {
  v = {{"submission", s.submission}, {"queue_position", s.queue_position}};
}

Submitted tag_invoke(json::value_to_tag<Submitted>, const json::value& v) {
  const Object o(v);
  return {o.required<int64_t>("submission"), o.required<int>("queue_position")};
}

JudgingInfo judging_info(const store::JudgingRecord& j) {
  return {j.id,    j.live != 0,     j.rejudge_id, j.verdict, j.metric,
          j.score, j.finished_at_ms, stored_fingerprint(j.result_json)};
}

void tag_invoke(json::value_from_tag, json::value& v, const JudgingInfo& j) {
  v = json::object{{"judging", j.judging},
                   {"live", j.live},
                   {"rejudge", write(j.rejudge)},
                   {"verdict", write(j.verdict)},
                   {"metric", write(j.metric)},
                   {"score", j.score},
                   {"finished_at_ms", write(j.finished_at_ms)},
                   {"fingerprint", write(j.fingerprint)}};
}

JudgingInfo tag_invoke(json::value_to_tag<JudgingInfo>, const json::value& v) {
  const Object o(v);
  return {o.required<int64_t>("judging"),
          o.required<bool>("live"),
          o.optional<std::optional<int64_t>>("rejudge"),
          o.optional<std::optional<std::string>>("verdict"),
          o.optional<std::optional<double>>("metric"),
          o.required<int>("score"),
          o.optional<std::optional<int64_t>>("finished_at_ms"),
          o.optional<std::optional<Fingerprint>>("fingerprint")};
}

SubmissionInfo submission_info(const store::SubmissionRecord& r, int queue_position,
                               const std::vector<store::JudgingRecord>& judgings) {
  SubmissionInfo s{r.id,      r.session_id, r.task,    r.source_name, r.source_hash,    r.submitted_at_ms, state_of(r),
                   queue_position, r.verdict, r.metric, r.score, r.message, r.detail, r.finished_at_ms, r.attempts,
                   stored_fingerprint(r.result_json), {}};
  s.judgings.reserve(judgings.size());
  for (const auto& j : judgings) s.judgings.push_back(judging_info(j));
  return s;
}

Submission submission(const store::SubmissionRecord& r, int queue_position,
                      const std::vector<store::JudgingRecord>& judgings) {
  Submission s;
  static_cast<SubmissionInfo&>(s) = submission_info(r, queue_position, judgings);
  if (r.result_json != "{}") s.result = json_shape::parse_stored<GradeRecord>(r.result_json);
  s.curve = json_shape::parse_stored<std::vector<CurvePoint>>(r.curve_json);
  return s;
}

void tag_invoke(json::value_from_tag, json::value& v, const SubmissionInfo& s) {
  v = json::object{{"submission", s.submission},
                   {"session", s.session},
                   {"task", s.task},
                   {"file", s.file},
                   {"source_hash", s.source_hash},
                   {"submitted_at_ms", s.submitted_at_ms},
                   {"state", write(s.state)},
                   {"queue_position", s.queue_position},
                   {"verdict", write(s.verdict)},
                   {"metric", write(s.metric)},
                   {"score", s.score},
                   {"message", s.message},
                   {"detail", s.detail},
                   {"finished_at_ms", write(s.finished_at_ms)},
                   {"attempts", s.attempts},
                   {"fingerprint", write(s.fingerprint)},
                   {"judgings", write(s.judgings)}};
}

SubmissionInfo tag_invoke(json::value_to_tag<SubmissionInfo>, const json::value& v) {
  const Object o(v);
  return {o.required<int64_t>("submission"),
          o.required<std::string>("session"),
          o.required<std::string>("task"),
          o.required<std::string>("file"),
          o.required<std::string>("source_hash"),
          o.required<int64_t>("submitted_at_ms"),
          o.required<SubmissionState>("state"),
          o.required<int>("queue_position"),
          o.optional<std::optional<std::string>>("verdict"),
          o.optional<std::optional<double>>("metric"),
          o.required<int>("score"),
          o.required<std::string>("message"),
          o.required<std::string>("detail"),
          o.optional<std::optional<int64_t>>("finished_at_ms"),
          o.required<int>("attempts"),
          o.optional<std::optional<Fingerprint>>("fingerprint"),
          o.optional<std::vector<JudgingInfo>>("judgings")};  // absent from an older daemon
}

void tag_invoke(json::value_from_tag, json::value& v, const Submission& s) {
  json::object o = json::value_from(static_cast<const SubmissionInfo&>(s)).get_object();
  // No result yet is {}; a finished submission's result that does not read is null.
  o["result"] = s.result ? json::value_from(*s.result)
                         : s.state == SubmissionState::finished ? json::value(nullptr) : json::value(json::object());
  o["curve"] = write(s.curve);
  if (s.with_source) o["source"] = write(s.source);
  v = std::move(o);
}

Submission tag_invoke(json::value_to_tag<Submission>, const json::value& v) {
  const Object o(v);
  Submission s;
  static_cast<SubmissionInfo&>(s) = json::value_to<SubmissionInfo>(v);
  const auto result = o.optional<std::optional<json::value>>("result");
  if (result && !(result->is_object() && result->get_object().empty())) {
    try {
      s.result = json::value_to<GradeRecord>(*result);
    } catch (const ShapeError& e) {
      throw e.within(".result");
    }
  }
  s.curve = o.optional<std::optional<std::vector<CurvePoint>>>("curve");
  s.with_source = o.fields().contains("source");
  s.source = o.optional<std::optional<std::string>>("source");
  return s;
}

void tag_invoke(json::value_from_tag, json::value& v, const SubmissionList& l) {
  v = {{"submissions", write(l.submissions)}};
}

SubmissionList tag_invoke(json::value_to_tag<SubmissionList>, const json::value& v) {
  return {Object(v).required<std::vector<SubmissionInfo>>("submissions")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Cancelled& c) { v = {{"cancelled", c.cancelled}}; }

Cancelled tag_invoke(json::value_to_tag<Cancelled>, const json::value& v) {
  return {Object(v).required<bool>("cancelled")};
}

void tag_invoke(json::value_from_tag, json::value& v, const DaemonStatus& d) {
  v = {{"pid", d.pid}, {"version", d.version}, {"socket", d.socket}, {"state_dir", d.state_dir}, {"sessions", d.sessions}};
}

DaemonStatus tag_invoke(json::value_to_tag<DaemonStatus>, const json::value& v) {
  const Object o(v);
  return {o.required<int>("pid"), o.required<std::string>("version"), o.required<std::string>("socket"),
          o.required<std::string>("state_dir"), o.required<int64_t>("sessions")};
}

// ---- Notifications

Finished finished_note(const store::SubmissionRecord& r) {
  return {r.session_id, r.id, r.task, state_of(r), r.verdict, r.metric, r.score, r.message};
}

void tag_invoke(json::value_from_tag, json::value& v, const Finished& f) {
  v = {{"session", f.session}, {"submission", f.submission},    {"task", f.task},   {"state", write(f.state)},
       {"verdict", write(f.verdict)}, {"metric", write(f.metric)}, {"score", f.score}, {"message", f.message}};
}

Finished tag_invoke(json::value_to_tag<Finished>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("session"),
          o.required<int64_t>("submission"),
          o.required<std::string>("task"),
          o.required<SubmissionState>("state"),
          o.optional<std::optional<std::string>>("verdict"),
          o.optional<std::optional<double>>("metric"),
          o.required<int>("score"),
          o.required<std::string>("message")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Timer& t) {
  v = {{"session", t.session}, {"remaining_s", write(t.remaining_s)}, {"warning_minutes", write(t.warning_minutes)}};
}

Timer tag_invoke(json::value_to_tag<Timer>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("session"), o.real("remaining_s"), o.optional<std::optional<int>>("warning_minutes")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Closed& c) {
  json::object o{{"session", c.session}, {"closed_at_ms", write(c.closed_at_ms)}, {"state", write(c.state)}};
  if (c.report) o["report"] = *c.report;
  v = std::move(o);
}

Closed tag_invoke(json::value_to_tag<Closed>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("session"), o.optional<std::optional<int64_t>>("closed_at_ms"),
          o.required<SessionState>("state"), o.optional<std::optional<std::string>>("report")};
}

void tag_invoke(json::value_from_tag, json::value& v, const SyntaxCheck& c) {
  v = {{"session", c.session}, {"task", c.task}, {"file", c.file.string()}, {"diagnostics", write(c.diagnostics)}};
}

SyntaxCheck tag_invoke(json::value_to_tag<SyntaxCheck>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("session"), o.required<std::string>("task"),
          o.required<std::filesystem::path>("file"), o.required<std::vector<Diagnostic>>("diagnostics")};
}

// ---- report/data

void tag_invoke(json::value_from_tag, json::value& v, const ReportParams& p) {
  json::object o;
  unless_default(o, "session", p.session);
  unless_default(o, "workspace", p.workspace);
  unless_default(o, "task", p.task);
  unless_default(o, "submission", p.submission);
  v = std::move(o);
}

ReportParams tag_invoke(json::value_to_tag<ReportParams>, const json::value& v) {
  const Object o(v);
  o.only({"session", "workspace", "task", "submission"});
  return {o.optional<std::string>("session"), o.optional<std::string>("workspace"), o.optional<std::string>("task"),
          o.optional<int64_t>("submission")};
}

void tag_invoke(json::value_from_tag, json::value& v, const ReportData& d) {
  v = {{"scope", d.scope},
       {"status", json::value_from(d.status)},
       {"history", write(d.history)},
       {"details", write(d.details)},
       {"progress", write(d.progress)},
       {"diagnostics_visible", d.diagnostics_visible}};
}

ReportData tag_invoke(json::value_to_tag<ReportData>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("scope"),
          o.required<ExamStatus>("status"),
          o.required<std::vector<SubmissionInfo>>("history"),
          o.required<std::vector<Submission>>("details"),
          o.required<std::vector<SubmissionProgress>>("progress"),
          o.required<bool>("diagnostics_visible")};
}

}  // namespace torchexam::protocol

namespace torchexam {
namespace json = boost::json;
using json_shape::Object;
using json_shape::write;

TORCHEXAM_PROTOCOL_BY_NAME(SessionState, parse_session_state, session_state_names)
TORCHEXAM_PROTOCOL_BY_NAME(SubmissionState, parse_submission_state, submission_state_names)
TORCHEXAM_PROTOCOL_BY_NAME(Stage, parse_stage, stage_names)

void tag_invoke(json::value_from_tag, json::value& v, const TaskSummary& t) {
  v = json::object{{"id", t.id},
                   {"title", t.title},
                   {"metric", t.metric},
                   {"ladder", write(t.ladder)},
                   {"time_budget_s", write(t.time_budget_s)},
                   {"folder", t.folder.string()},
                   {"best_score", t.best_score},
                   {"best_submission", write(t.best_submission)},
                   {"last_verdict", t.last_verdict},
                   {"submissions", t.submissions},
                   {"diagnostics", write(t.diagnostics)},
                   {"fingerprint", write(t.fingerprint)}};
}

TaskSummary tag_invoke(json::value_to_tag<TaskSummary>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("id"),
          o.required<std::string>("title"),
          o.required<std::string>("metric"),
          o.required<std::vector<double>>("ladder"),
          o.required<double>("time_budget_s"),
          o.required<std::filesystem::path>("folder"),
          o.required<int>("best_score"),
          o.optional<std::optional<int64_t>>("best_submission"),
          o.required<std::string>("last_verdict"),
          o.required<int>("submissions"),
          o.required<std::vector<Diagnostic>>("diagnostics"),
          o.optional<std::optional<Fingerprint>>("fingerprint")};
}

void tag_invoke(json::value_from_tag, json::value& v, const QueueItem& q) {
  v = {{"submission", q.submission}, {"task", q.task}, {"state", write(q.state)}, {"position", q.position}};
}

QueueItem tag_invoke(json::value_to_tag<QueueItem>, const json::value& v) {
  const Object o(v);
  return {o.required<int64_t>("submission"), o.required<std::string>("task"), o.required<SubmissionState>("state"),
          o.required<int>("position")};
}

void tag_invoke(json::value_from_tag, json::value& v, const RestoreResult& r) {
  v = {{"file", r.file.string()}, {"previous_hash", r.previous_hash}, {"previous_copy", r.previous_copy.string()}};
}

RestoreResult tag_invoke(json::value_to_tag<RestoreResult>, const json::value& v) {
  const Object o(v);
  return {o.required<std::filesystem::path>("file"), o.required<std::string>("previous_hash"),
          o.required<std::filesystem::path>("previous_copy")};
}

void tag_invoke(json::value_from_tag, json::value& v, const VerifyReport& r) {
  v = {{"environment", r.environment.string()},
       {"ok", r.ok},
       {"checks", write(r.checks)},
       {"forecasts", write(r.forecasts)}};
}

VerifyReport tag_invoke(json::value_to_tag<VerifyReport>, const json::value& v) {
  const Object o(v);
  VerifyReport r;
  r.environment = o.required<std::filesystem::path>("environment");
  r.ok = o.required<bool>("ok");
  r.checks = o.required<std::vector<doctor::CheckResult>>("checks");
  r.forecasts = o.required<std::vector<doctor::Forecast>>("forecasts");
  return r;
}

}  // namespace torchexam
