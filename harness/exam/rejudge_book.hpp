// rejudge_book.hpp — rejudging sets (docs/rejudging.md): finished
// submissions regraded in the background, reviewed as an old/new/delta
// table, then applied or cancelled as a whole. Nothing is overwritten:
// every grading is a judging in the store, exactly one per submission live.
//
// A set is made by create() from the submissions the service selected
// (every finished one of a submission, a task, a session or an
// environment's sessions), stored with one item per submission, and its
// items queued on the JobQueue as regrade jobs (behind every candidate's
// job). States: running -> review (every item regraded) -> applied |
// cancelled; cancel also from running. apply() makes the new judgings live
// in one store transaction; the submissions' columns then mirror them,
// their score taken by the environment's grading.repeat_score over all
// their judgings (live: the new judging's; best, median: taken_score()),
// and AppliedFn recounts the scoreboard of the (session, task) pairs
// touched. A new judging whose grading failed in the harness
// (internal_error) is kept in the history but never made live.
// cancel() drops the waiting items and stops the running one; judgings
// already made stay, not live. Only one open (running or review) set may
// hold a submission: an overlapping create() is refused naming the set.
// recover() after a restart queues the items of running sets again.
//
// Notes: on_rejudge (RejudgeProgress) to the ExamListener for every item
// regraded and every change of state.
//
// Threads: the io thread only (as the queue that calls it back).
// Failure: ServiceError (not_found, conflict, invalid_state,
// invalid_argument) for requests that do not fit, with what to do; store
// errors pass through.
#pragma once

#include "base/clock.hpp"
#include "exam/job_queue.hpp"
#include "exam/listener.hpp"
#include "exam/states.hpp"
#include "store/store.hpp"

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace torchexam {

// What a set regrades, as the operator said it: one submission; or a
// session (all its tasks, or `task`); or every session of an environment
// folder (all tasks, or `task`).
struct RejudgeSelection {
  int64_t submission = 0;    // 0: none
  std::string session;       // "" : none
  std::string environment;   // absolute folder; "" : none
  std::string task;          // "" : every task
  friend bool operator==(const RejudgeSelection&, const RejudgeSelection&) = default;
};

// One side of a delta row.
struct JudgingOutcome {
  std::optional<std::string> verdict;
  std::optional<double> metric;
  int score = 0;
  friend bool operator==(const JudgingOutcome&, const JudgingOutcome&) = default;
};

// One row of a set's table.
struct DeltaRow {
  int64_t submission = 0;
  std::string session;
  std::string task;
  RejudgeItemState state = RejudgeItemState::queued;
  JudgingOutcome before;               // the judging live when the set was made
  std::optional<JudgingOutcome> after;  // once regraded
  int delta_score = 0;                  // after - before (0 until regraded)
  // Why it may differ: the item's note (nothing was regraded, or the harness
  // failed), then fingerprint_differences(before, after). Empty when nothing
  // known changed.
  std::vector<std::string> reasons;
  friend bool operator==(const DeltaRow&, const DeltaRow&) = default;
};

struct RejudgeSet {
  int64_t id = 0;
  RejudgeKind kind = RejudgeKind::rescore;
  RejudgeSelection selection;
  RejudgeState state = RejudgeState::running;
  int64_t created_at_ms = 0;
  std::string reason;
  int done = 0;     // items regraded
  int changed = 0;  // regraded items whose verdict, metric or score differ
  std::vector<DeltaRow> rows;  // by submission
  friend bool operator==(const RejudgeSet&, const RejudgeSet&) = default;
};

class RejudgeBook final : public RegradeListener {
 public:
  // Where a submission's regrade runs: its session, with the environment as
  // it is on disk now (its current ladder and plugin). Throws ServiceError
  // when that cannot be had (the environment no longer loads, say).
  using TargetFn = std::function<JobTarget(const store::SubmissionRecord&)>;
  // After apply(): the (session, task) pairs whose submissions changed.
  using AppliedFn = std::function<void(const std::set<std::pair<std::string, std::string>>&)>;

  // Every reference must outlive the book. The book makes itself the
  // queue's RegradeListener.
  RejudgeBook(const Clock& clock, store::Store& store, JobQueue& queue, ExamListener& out, TargetFn target,
              AppliedFn applied);

  // A new running set of `chosen` (finished submissions; others are left
  // out), stored and queued. Throws invalid_argument when none is
  // finished, conflict when one is in an open set.
  RejudgeSet create(RejudgeKind kind, const RejudgeSelection& selection, const std::string& reason,
                    const std::vector<store::SubmissionRecord>& chosen);
  RejudgeSet get(int64_t id) const;  // throws not_found
  RejudgeSet apply(int64_t id);      // review only, else invalid_state
  RejudgeSet cancel(int64_t id);     // running or review, else invalid_state
  // After a restart: the running sets' unfinished items queued again (a
  // set whose every item was done goes to review).
  void recover();

  void regrade_started(const Job& job) override;
  void regrade_finished(const Job& job, const JobOutcome& outcome) override;

 private:
  store::RejudgeRecord record(int64_t id) const;  // throws not_found
  void queue_item(int64_t rejudge, RejudgeKind kind, const store::RejudgeItemRecord& item);
  // Moves a running set whose items are all done to review; sends progress.
  void progress(int64_t id);

  const Clock& clock_;
  store::Store& db_;
  JobQueue& queue_;
  ExamListener& out_;
  TargetFn target_;
  AppliedFn applied_;
};

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const RejudgeSelection& s);
RejudgeSelection tag_invoke(boost::json::value_to_tag<RejudgeSelection>, const boost::json::value& v);

}  // namespace torchexam
