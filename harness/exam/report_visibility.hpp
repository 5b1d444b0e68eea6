// report_visibility.hpp — whether a session's task diagnostics may be shown:
// the one decision every place that shows a grading asks (the daemon's
// submission records, `torchexam report`, `torchexam grade --json`).
//
// Task diagnostics are aggregates of the hidden labels (a confusion matrix,
// the error per target range; grading/task_diagnostics.hpp). An environment
// chooses what may be shown of them with `report: {diagnostics: ...}`
// (config.hpp, docs/environment-yaml.md):
//   full         always shown;
//   metric_only  never shown: the metric and score only;
//   unset        shown in a practice session; in an exam-mode session hidden
//                while it is open and shown once it is over (closed at its
//                deadline, or stopped), as graders keep per-test feedback
//                back until an exam ends.
// What is hidden is left out of what leaves the core; the store keeps the
// whole grading, so diagnostics hidden during an exam appear after it.
//
// Threads: pure functions. Failure: without_task_diagnostics() never throws
// for the record's contents.
#pragma once

#include "config/config.hpp"
#include "exam/states.hpp"
#include "store/store.hpp"

namespace torchexam {

// `closed`: the session takes no more submissions (closed or stopped).
bool diagnostics_visible(const config::Environment& env, SessionMode mode, bool closed);

// The same for a stored session: its mode, and closed unless it is open.
// Throws ServiceError (invalid_state) for a mode or state it does not know.
bool diagnostics_visible(const config::Environment& env, const store::SessionRecord& session);

// `r` with no `task_diagnostics` in its stored result (result_json); the
// rest of the result as it was. A result that does not read as a JSON
// object is left alone: no reply carries it (protocol::submission() sends
// null for it).
store::SubmissionRecord without_task_diagnostics(store::SubmissionRecord r);
// The same for one judging of it (its result_json).
store::JudgingRecord without_task_diagnostics(store::JudgingRecord j);

}  // namespace torchexam
