// messages.hpp — every message of the TorchExam protocol as a typed struct
// with its JSON conversion (docs/protocol.md shows each on the wire).
//
// Params: `P from_json(const json::value&, P*)` reads a params object with
// Fields, refusing unknown fields and wrong types with invalid_params.
// Results and notifications: `json::value to_json(const T&)`.
// This layer converts; it decides nothing.
#pragma once

#include "exam/exam_service.hpp"
#include "protocol/jsonrpc.hpp"

#include <optional>
#include <string>

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
// Notifications, daemon to client.
inline constexpr const char* submission_progress = "submission/progress";
inline constexpr const char* submission_finished = "submission/finished";
inline constexpr const char* exam_timer = "exam/timer";
inline constexpr const char* exam_closed = "exam/closed";
inline constexpr const char* workspace_diagnostics = "workspace/diagnostics";
}  // namespace method

struct StartParams {
  std::string environment;
  std::string workspace;
  std::string mode = "practice";
  std::optional<double> duration_s;
  bool overwrite = false;
};
StartParams from_json(const json::value& v, StartParams*);

// Names a session: by id, or by a folder inside its workspace, or neither
// when exactly one session is open.
struct SessionParams {
  std::string session;
  std::string workspace;
};
SessionParams from_json(const json::value& v, SessionParams*);

struct SubmitParams {
  std::string session;
  std::string workspace;
  std::string task;
  std::string file = "solution.cpp";
};
SubmitParams from_json(const json::value& v, SubmitParams*);

struct SubmissionListParams {
  std::string session;
  std::string workspace;
  std::string task;  // empty: every task
};
SubmissionListParams from_json(const json::value& v, SubmissionListParams*);

struct SubmissionParams {
  int64_t submission = 0;
  bool include_source = false;  // submission/get only
};
SubmissionParams from_json(const json::value& v, SubmissionParams*);

struct VerifyParams {
  std::string environment;
};
VerifyParams from_json(const json::value& v, VerifyParams*);

struct EmptyParams {};
EmptyParams from_json(const json::value& v, EmptyParams*);

json::value to_json(const ExamSummary& s);
json::value to_json(const TaskSummary& t);
json::value to_json(const store::SubmissionRecord& r, int queue_position);
json::value to_json(const RestoreResult& r);
json::value to_json(const VerifyReport& r);
json::value to_json(const ProgressNote& n);
json::value finished_note(const store::SubmissionRecord& r);
json::value timer_note(const store::SessionRecord& s, double remaining_s, std::optional<int> warning);
json::value closed_note(const store::SessionRecord& s);
json::value diagnostics_note(const std::string& session, const std::string& task, const std::string& file,
                             const std::vector<Diagnostic>& diagnostics);

}  // namespace torchexam::protocol
