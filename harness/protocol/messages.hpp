// messages.hpp — every message of the TorchExam protocol as a typed struct
// with Boost.JSON conversions both ways (`tag_invoke` for value_from and
// value_to; docs/protocol.md shows each on the wire), and every method by
// its signature (rpc::exam_status is a Call<SessionParams, ExamStatus>).
//
// The daemon reads params and writes results and notifications; clients
// (client/, lsp/, cli/) write params and read the rest, through the same
// conversions. Types the core owns are used as they are: TaskSummary,
// QueueItem, RestoreResult, VerifyReport and ProgressNote are converted here
// (only the protocol sends them); Diagnostic, GradeResult and the curve in
// grading/grade_json.hpp, CheckResult and Forecast in doctor/ (they are also
// stored and printed). Nothing converts a type twice.
//
// Reading (base/json_shape.hpp): params refuse unknown fields, then read
// each field in the order of the docs' params table; a field set to null
// counts as absent. Results and notifications ignore fields they do not know
// (a newer daemon may add some) but need every field the docs list, with its
// type. States and stages (exam/states.hpp: SessionState, SubmissionState,
// Stage) travel by their names, read and written through the core's one
// table; a name it does not know is a ShapeError naming the field
// ("state: expected one of running, paused, closed, stopped (got 'x')").
// Wrong shapes become RpcError(invalid_params) through read_params and
// ReplyError through read_result / read_note (jsonrpc.hpp). This layer
// converts; it decides nothing.
#pragma once

#include "exam/exam_service.hpp"
#include "grading/grade_json.hpp"
#include "protocol/jsonrpc.hpp"

#include <optional>
#include <string>
#include <vector>

namespace torchexam::protocol {

namespace method {
inline constexpr const char* exam_start = "exam/start";
inline constexpr const char* exam_status = "exam/status";
inline constexpr const char* exam_stop = "exam/stop";
inline constexpr const char* exam_pause = "exam/pause";
inline constexpr const char* exam_resume = "exam/resume";
inline constexpr const char* task_list = "task/list";
inline constexpr const char* task_submit = "task/submit";
inline constexpr const char* submission_list = "submission/list";
inline constexpr const char* submission_get = "submission/get";
inline constexpr const char* submission_cancel = "submission/cancel";
inline constexpr const char* submission_restore = "submission/restore";
inline constexpr const char* env_verify = "env/verify";
inline constexpr const char* daemon_info = "daemon/info";
inline constexpr const char* daemon_shutdown = "daemon/shutdown";
inline constexpr const char* report_data = "report/data";
inline constexpr const char* rejudge_create = "rejudge/create";
inline constexpr const char* rejudge_get = "rejudge/get";
inline constexpr const char* rejudge_apply = "rejudge/apply";
inline constexpr const char* rejudge_cancel = "rejudge/cancel";
// Notifications, daemon to client.
inline constexpr const char* submission_progress = "submission/progress";
inline constexpr const char* submission_finished = "submission/finished";
inline constexpr const char* exam_timer = "exam/timer";
inline constexpr const char* exam_closed = "exam/closed";
inline constexpr const char* workspace_diagnostics = "workspace/diagnostics";
inline constexpr const char* rejudge_progress = "rejudge/progress";
}  // namespace method

// ---- Params. Written with only the fields a client sets: an empty
// session, workspace or task, a false include_source and an unset
// duration_s are left out (the defaults the daemon reads them as).

struct StartParams {
  std::string environment;
  std::string workspace;
  std::string mode = "practice";
  std::optional<double> duration_s;
  bool overwrite = false;
  friend bool operator==(const StartParams&, const StartParams&) = default;
};

// Names a session: by id, or by a folder inside its workspace, or neither
// when exactly one session is open.
struct SessionParams {
  std::string session;
  std::string workspace;
  friend bool operator==(const SessionParams&, const SessionParams&) = default;
};

struct SubmitParams {
  std::string session;
  std::string workspace;
  std::string task;
  std::string file = "solution.cpp";
  friend bool operator==(const SubmitParams&, const SubmitParams&) = default;
};

struct SubmissionListParams {
  std::string session;
  std::string workspace;
  std::string task;  // empty: every task
  friend bool operator==(const SubmissionListParams&, const SubmissionListParams&) = default;
};

struct SubmissionParams {
  int64_t submission = 0;
  bool include_source = false;  // submission/get only
  friend bool operator==(const SubmissionParams&, const SubmissionParams&) = default;
};

struct VerifyParams {
  std::string environment;
  friend bool operator==(const VerifyParams&, const VerifyParams&) = default;
};

// report/data: one submission (submission != 0), every submission of a
// task (task), or the whole session (neither).
struct ReportParams {
  std::string session;
  std::string workspace;
  std::string task;
  int64_t submission = 0;
  friend bool operator==(const ReportParams&, const ReportParams&) = default;
};

// rejudge/create (docs/rejudging.md): what to regrade, exactly one of a
// submission; a session (by id, or by a folder inside its workspace, or
// neither when one session is open), all its tasks or `task`; or an
// environment folder (every session of it), all tasks or `task`. The
// result, and that of every rejudge/ method, is the set (RejudgeSet,
// converted below).
struct RejudgeCreateParams {
  RejudgeKind kind = RejudgeKind::rescore;
  int64_t submission = 0;
  std::string session;
  std::string workspace;
  std::string environment;
  std::string task;
  std::string reason;
  friend bool operator==(const RejudgeCreateParams&, const RejudgeCreateParams&) = default;
};

// rejudge/get, rejudge/apply, rejudge/cancel.
struct RejudgeParams {
  int64_t rejudge = 0;
  friend bool operator==(const RejudgeParams&, const RejudgeParams&) = default;
};

// No params ({}), and daemon/shutdown's result.
struct Empty {
  friend bool operator==(const Empty&, const Empty&) = default;
};

// ---- Results (docs/protocol.md §4, §5).

// The exam summary: exam/start, status, stop, pause and resume.
struct ExamStatus {
  std::string session;
  std::string environment;
  std::string workspace;
  std::string mode;
  SessionState state = SessionState::running;
  int64_t started_at_ms = 0;
  int64_t deadline_ms = 0;
  double remaining_s = 0;
  std::vector<TaskSummary> tasks;
  std::vector<QueueItem> queue;
  int total_score = 0;
  int pass_mark = 0;
  bool passed = false;
  std::vector<doctor::CheckResult> checks;  // exam/start only; [] elsewhere
  friend bool operator==(const ExamStatus&, const ExamStatus&) = default;
};
ExamStatus exam_status(const ExamSummary& s);

struct TaskList {
  std::vector<TaskSummary> tasks;
  friend bool operator==(const TaskList&, const TaskList&) = default;
};

struct Submitted {  // task/submit
  int64_t submission = 0;
  int queue_position = 0;
  friend bool operator==(const Submitted&, const Submitted&) = default;
};

// One grading of a submission (docs/rejudging.md): its own (rejudge null)
// or one a regrade set made. Exactly one judging of a graded submission is
// live, the one its verdict, metric and score mirror.
struct JudgingInfo {
  int64_t judging = 0;
  bool live = false;
  std::optional<int64_t> rejudge;  // the set that made it; null: the submission's own grading
  std::optional<std::string> verdict;
  std::optional<double> metric;
  int score = 0;
  std::optional<int64_t> finished_at_ms;  // when it was graded
  std::optional<Fingerprint> fingerprint;  // null: graded before fingerprints, or its result does not read
  friend bool operator==(const JudgingInfo&, const JudgingInfo&) = default;
};
JudgingInfo judging_info(const store::JudgingRecord& j);

// A submission record as submission/list has it.
struct SubmissionInfo {
  int64_t submission = 0;
  std::string session;
  std::string task;
  std::string file;
  std::string source_hash;
  int64_t submitted_at_ms = 0;
  SubmissionState state = SubmissionState::queued;
  int queue_position = -1;  // 0 running, 1.. waiting, -1 not in the queue
  std::optional<std::string> verdict;
  std::optional<double> metric;
  int score = 0;
  std::string message;
  std::string detail;
  std::optional<int64_t> finished_at_ms;
  int attempts = 0;
  std::optional<Fingerprint> fingerprint;  // of its grading (null: not graded, or graded before fingerprints)
  // Every grading of it, oldest first, the live one among them ([] before
  // it is graded; read as [] from a daemon that does not send them).
  std::vector<JudgingInfo> judgings;
  friend bool operator==(const SubmissionInfo&, const SubmissionInfo&) = default;
};
// `judgings`: the submission's, oldest first (store::Store::judgings).
SubmissionInfo submission_info(const store::SubmissionRecord& r, int queue_position,
                               const std::vector<store::JudgingRecord>& judgings);

// submission/get: the record with its result, curve and (when asked) source.
struct Submission : SubmissionInfo {
  // The stored result. Empty before grading ends ({} on the wire), and for a
  // finished submission whose stored result does not read (null).
  std::optional<GradeRecord> result;
  // The training curve; empty when its stored text does not read (null).
  std::optional<std::vector<CurvePoint>> curve = std::vector<CurvePoint>{};
  bool with_source = false;           // include_source was asked
  std::optional<std::string> source;  // the snapshot; empty when not text (a TorchScript model)
  friend bool operator==(const Submission&, const Submission&) = default;
};
Submission submission(const store::SubmissionRecord& r, int queue_position,
                      const std::vector<store::JudgingRecord>& judgings);

struct SubmissionList {
  std::vector<SubmissionInfo> submissions;
  friend bool operator==(const SubmissionList&, const SubmissionList&) = default;
};

struct Cancelled {  // submission/cancel
  bool cancelled = false;
  friend bool operator==(const Cancelled&, const Cancelled&) = default;
};

struct DaemonStatus {  // daemon/info
  int pid = 0;
  std::string version;
  std::string socket;
  std::string state_dir;
  int64_t sessions = 0;
  friend bool operator==(const DaemonStatus&, const DaemonStatus&) = default;
};

// report/data: what `torchexam report` draws (docs/protocol.md, report/data).
// The runner's progress events of one submission, in the order they came
// (batch and epoch notes; batch notes thinned evenly to at most
// kReportMaxBatchEvents, every epoch note kept).
inline constexpr size_t kReportMaxBatchEvents = 2000;
struct SubmissionProgress {
  int64_t submission = 0;
  std::vector<events::Progress> events;
  friend bool operator==(const SubmissionProgress&, const SubmissionProgress&) = default;
};
struct ReportData {
  std::string scope;  // "submission", "task" or "session"
  ExamStatus status;  // the session the submissions belong to
  // Every submission in scope, by id (the session's for "session").
  std::vector<SubmissionInfo> history;
  // The ones drawn in full, with result and curve: the one asked for; every
  // one of the task; per task its best, else its newest finished.
  std::vector<Submission> details;
  std::vector<SubmissionProgress> progress;  // one per detail, same order
  // False: the environment shows the metric only for now (an exam not yet
  // closed); the daemon left every result's task_diagnostics out.
  bool diagnostics_visible = true;
  friend bool operator==(const ReportData&, const ReportData&) = default;
};

// ---- Notifications (docs/protocol.md §6). submission/progress is the
// core's ProgressNote, its training fields flat beside the stage.

struct Finished {  // submission/finished
  std::string session;
  int64_t submission = 0;
  std::string task;
  SubmissionState state = SubmissionState::finished;  // finished or cancelled
  std::optional<std::string> verdict;
  std::optional<double> metric;
  int score = 0;
  std::string message;
  friend bool operator==(const Finished&, const Finished&) = default;
};
Finished finished_note(const store::SubmissionRecord& r);

struct Timer {  // exam/timer
  std::string session;
  double remaining_s = 0;
  std::optional<int> warning_minutes;  // 30, 10 or 1
  friend bool operator==(const Timer&, const Timer&) = default;
};

struct Closed {  // exam/closed
  std::string session;
  std::optional<int64_t> closed_at_ms;
  SessionState state = SessionState::closed;
  // The session report the daemon wrote beside the workspace at the close
  // (absent when it could not be written; the daemon's log says why).
  std::optional<std::string> report;
  friend bool operator==(const Closed&, const Closed&) = default;
};

struct SyntaxCheck {  // workspace/diagnostics
  std::string session;
  std::string task;
  std::filesystem::path file;
  std::vector<Diagnostic> diagnostics;
  friend bool operator==(const SyntaxCheck&, const SyntaxCheck&) = default;
};

// ---- Every method and notification by its signature.
namespace rpc {
inline constexpr Call<StartParams, ExamStatus> exam_start{method::exam_start};
inline constexpr Call<SessionParams, ExamStatus> exam_status{method::exam_status};
inline constexpr Call<SessionParams, ExamStatus> exam_stop{method::exam_stop};
inline constexpr Call<SessionParams, ExamStatus> exam_pause{method::exam_pause};
inline constexpr Call<SessionParams, ExamStatus> exam_resume{method::exam_resume};
inline constexpr Call<SessionParams, TaskList> task_list{method::task_list};
inline constexpr Call<SubmitParams, Submitted> task_submit{method::task_submit};
inline constexpr Call<SubmissionListParams, SubmissionList> submission_list{method::submission_list};
inline constexpr Call<SubmissionParams, Submission> submission_get{method::submission_get};
inline constexpr Call<SubmissionParams, Cancelled> submission_cancel{method::submission_cancel};
inline constexpr Call<SubmissionParams, RestoreResult> submission_restore{method::submission_restore};
inline constexpr Call<VerifyParams, VerifyReport> env_verify{method::env_verify};
inline constexpr Call<Empty, DaemonStatus> daemon_info{method::daemon_info};
inline constexpr Call<Empty, Empty> daemon_shutdown{method::daemon_shutdown};
inline constexpr Call<ReportParams, ReportData> report_data{method::report_data};
inline constexpr Call<RejudgeCreateParams, RejudgeSet> rejudge_create{method::rejudge_create};
inline constexpr Call<RejudgeParams, RejudgeSet> rejudge_get{method::rejudge_get};
inline constexpr Call<RejudgeParams, RejudgeSet> rejudge_apply{method::rejudge_apply};
inline constexpr Call<RejudgeParams, RejudgeSet> rejudge_cancel{method::rejudge_cancel};
inline constexpr Note<ProgressNote> submission_progress{method::submission_progress};
inline constexpr Note<Finished> submission_finished{method::submission_finished};
inline constexpr Note<Timer> exam_timer{method::exam_timer};
inline constexpr Note<Closed> exam_closed{method::exam_closed};
inline constexpr Note<SyntaxCheck> workspace_diagnostics{method::workspace_diagnostics};
inline constexpr Note<RejudgeProgress> rejudge_progress{method::rejudge_progress};
}  // namespace rpc

#define TORCHEXAM_PROTOCOL_CONVERTS(T)                                               \
  void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const T& x); \
  T tag_invoke(boost::json::value_to_tag<T>, const boost::json::value& v)

TORCHEXAM_PROTOCOL_CONVERTS(StartParams);
TORCHEXAM_PROTOCOL_CONVERTS(SessionParams);
TORCHEXAM_PROTOCOL_CONVERTS(SubmitParams);
TORCHEXAM_PROTOCOL_CONVERTS(SubmissionListParams);
TORCHEXAM_PROTOCOL_CONVERTS(SubmissionParams);
TORCHEXAM_PROTOCOL_CONVERTS(VerifyParams);
TORCHEXAM_PROTOCOL_CONVERTS(Empty);
TORCHEXAM_PROTOCOL_CONVERTS(ExamStatus);
TORCHEXAM_PROTOCOL_CONVERTS(TaskList);
TORCHEXAM_PROTOCOL_CONVERTS(Submitted);
TORCHEXAM_PROTOCOL_CONVERTS(JudgingInfo);
TORCHEXAM_PROTOCOL_CONVERTS(SubmissionInfo);
TORCHEXAM_PROTOCOL_CONVERTS(Submission);
TORCHEXAM_PROTOCOL_CONVERTS(SubmissionList);
TORCHEXAM_PROTOCOL_CONVERTS(Cancelled);
TORCHEXAM_PROTOCOL_CONVERTS(DaemonStatus);
TORCHEXAM_PROTOCOL_CONVERTS(Finished);
TORCHEXAM_PROTOCOL_CONVERTS(Timer);
TORCHEXAM_PROTOCOL_CONVERTS(Closed);
TORCHEXAM_PROTOCOL_CONVERTS(SyntaxCheck);
TORCHEXAM_PROTOCOL_CONVERTS(ReportParams);
TORCHEXAM_PROTOCOL_CONVERTS(SubmissionProgress);
TORCHEXAM_PROTOCOL_CONVERTS(ReportData);
TORCHEXAM_PROTOCOL_CONVERTS(RejudgeCreateParams);  // rejudge_messages.cpp
TORCHEXAM_PROTOCOL_CONVERTS(RejudgeParams);

}  // namespace torchexam::protocol

// The core's types that only the protocol sends, converted here (found by
// argument-dependent lookup, so they sit in the core's namespace). The
// state enums are the store's text in the core; only the protocol sends
// them as JSON.
namespace torchexam {
TORCHEXAM_PROTOCOL_CONVERTS(SessionState);
TORCHEXAM_PROTOCOL_CONVERTS(SubmissionState);
TORCHEXAM_PROTOCOL_CONVERTS(Stage);
TORCHEXAM_PROTOCOL_CONVERTS(TaskSummary);
TORCHEXAM_PROTOCOL_CONVERTS(QueueItem);
TORCHEXAM_PROTOCOL_CONVERTS(RestoreResult);
TORCHEXAM_PROTOCOL_CONVERTS(VerifyReport);
TORCHEXAM_PROTOCOL_CONVERTS(ProgressNote);
// rejudge_messages.cpp (RejudgeSelection is converted by the core, which
// also stores it: exam/rejudge_book.hpp).
TORCHEXAM_PROTOCOL_CONVERTS(RejudgeKind);
TORCHEXAM_PROTOCOL_CONVERTS(RejudgeState);
TORCHEXAM_PROTOCOL_CONVERTS(RejudgeItemState);
TORCHEXAM_PROTOCOL_CONVERTS(JudgingOutcome);
TORCHEXAM_PROTOCOL_CONVERTS(DeltaRow);
TORCHEXAM_PROTOCOL_CONVERTS(RejudgeSet);
TORCHEXAM_PROTOCOL_CONVERTS(RejudgeProgress);
}  // namespace torchexam

#undef TORCHEXAM_PROTOCOL_CONVERTS
