// states.hpp — the states of an exam session and of a submission, the
// stages of a submission's grading, a session's mode, and the one place each
// is turned into its name (the text the store keeps and the protocol sends)
// and back.
//
// The store's records (store::SessionRecord, store::SubmissionRecord) hold
// the state as text, the form it has in the database and in protocol
// replies. The exam core reads and writes it only through state_of() and
// set_state() here, never by comparing strings.
//
// Failure: parse_*() gives nullopt for a text it does not know; state_of()
// throws ServiceError (invalid_state) naming the record and the text (a
// database written by a newer torchexam, say): a clear error, not a crash.
// Threads: any (pure functions).
#pragma once

#include "store/store.hpp"

#include <optional>
#include <string>
#include <string_view>

namespace torchexam {

enum class SessionState {
  running,  // open, the clock runs
  paused,   // open, the clock stands still (practice mode only)
  closed,   // the deadline passed; submissions made before it are still graded
  stopped,  // ended early by the candidate, or its environment went away
};

enum class SubmissionState {
  queued,       // waiting for a slot (or to be graded again after a restart)
  running,      // being graded
  finished,     // graded: it has a verdict and a score
  cancelled,    // cancelled by the candidate
  interrupted,  // its session or task no longer exists after a restart
};

// Where a submission is, as its progress notes say.
enum class Stage {
  queued,    // waiting for a slot (for the whole job, or a cluster's queue for a phase)
  stage,     // the task's data is staged
  build,     // the solution is compiled
  train,     // the runner trains
  evaluate,  // the runner predicts on the hidden test inputs
  score,     // the plugin scores the predictions
};

std::string_view to_string(SessionState s);
std::string_view to_string(SubmissionState s);
std::string_view to_string(Stage s);
std::optional<SessionState> parse_session_state(std::string_view text);
std::optional<SubmissionState> parse_submission_state(std::string_view text);
std::optional<Stage> parse_stage(std::string_view text);
// Every name a parse_*() takes, "a, b, c", for an error that lists them.
std::string session_state_names();
std::string submission_state_names();
std::string stage_names();

// Running or paused: the session takes submissions and its timer runs.
bool is_open(SessionState s);

SessionState state_of(const store::SessionRecord& r);
SubmissionState state_of(const store::SubmissionRecord& r);
void set_state(store::SessionRecord& r, SessionState s);
void set_state(store::SubmissionRecord& r, SubmissionState s);

// A rejudging set (rejudge_book.hpp, docs/rejudging.md): how it regrades,
// where it stands, and where each of its submissions stands.
enum class RejudgeKind {
  rescore,  // the stored predictions scored again: no runner
  retrain,  // built, trained and evaluated again from the stored source
};
enum class RejudgeState {
  running,    // its items are being regraded
  review,     // every item regraded: the delta table waits for apply or cancel
  applied,    // its new judgings are live
  cancelled,  // dropped; its new judgings stay in the history, not live
};
enum class RejudgeItemState { queued, running, done };

std::string_view to_string(RejudgeKind k);
std::string_view to_string(RejudgeState s);
std::string_view to_string(RejudgeItemState s);
std::optional<RejudgeKind> parse_rejudge_kind(std::string_view text);
std::optional<RejudgeState> parse_rejudge_state(std::string_view text);
std::optional<RejudgeItemState> parse_rejudge_item_state(std::string_view text);
std::string rejudge_kind_names();
std::string rejudge_state_names();
std::string rejudge_item_state_names();
// Throw ServiceError (invalid_state) for a text they do not know.
RejudgeKind kind_of(const store::RejudgeRecord& r);
RejudgeState state_of(const store::RejudgeRecord& r);
RejudgeItemState state_of(const store::RejudgeItemRecord& r);

// How a session was started (store::SessionRecord::mode).
enum class SessionMode {
  practice,  // may be paused and given its own duration
  exam,      // the environment's duration, no pause, the machine checks must pass
};

std::string_view to_string(SessionMode m);
std::optional<SessionMode> parse_session_mode(std::string_view text);
// Throws ServiceError (invalid_state) for a mode it does not know.
SessionMode mode_of(const store::SessionRecord& r);

}  // namespace torchexam
