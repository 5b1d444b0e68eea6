// status.hpp — what exam/status reports of a session: per task the best
// score, the last verdict, the number of submissions and the diagnostics
// of the last syntax check; the session's clock; its queue.
//
// Scoreboard keeps, per session and task, what a summary needs of the
// history, counted as submissions are made and finish (and from the store
// after a restart), so that a status request reads no rows.
// summarize() puts a summary together from the pieces that hold them.
//
// Threads: the io thread only. Failure: none (pure bookkeeping).
#pragma once

#include "doctor/check.hpp"
#include "exam/job_queue.hpp"
#include "exam/session_book.hpp"
#include "grading/compiler.hpp"
#include "grading/fingerprint.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace torchexam {

struct TaskSummary {
  std::string id;
  std::string title;
  std::string metric;
  std::vector<double> ladder;
  double time_budget_s = 0;
  std::filesystem::path folder;
  int best_score = 0;  // maximum over graded submissions (each scored by its live judging)
  std::optional<int64_t> best_submission;
  std::string last_verdict;  // of the newest finished submission, "" when none
  int submissions = 0;
  std::vector<Diagnostic> diagnostics;  // from the last syntax check on save
  std::optional<Fingerprint> fingerprint;  // of the best submission's grading, when it has one
  friend bool operator==(const TaskSummary&, const TaskSummary&) = default;
};

struct ExamSummary {
  store::SessionRecord session;
  double remaining_s = 0;
  int64_t deadline_ms = 0;
  std::vector<TaskSummary> tasks;
  std::vector<QueueItem> queue;
  int total_score = 0;
  int pass_mark = 0;
  bool passed = false;
  // exam/start only: the environment checks that did not pass (practice mode
  // starts anyway, with these as warnings; exam mode refuses on a `fail`).
  std::vector<doctor::CheckResult> checks;
};

class Scoreboard {
 public:
  struct Tally {
    int submissions = 0;
    int best_score = 0;
    std::optional<int64_t> best_submission;
    std::string last_verdict;
    std::optional<Fingerprint> best_fingerprint;
  };
  // Counts a submission's record: `is_new` once when it is made (or read
  // back after a restart), and again (false) each time its state changes;
  // only a finished one changes the scores.
  void count(const store::SubmissionRecord& r, bool is_new);
  // Counts one (session, task) afresh from every submission it has (after
  // a regrade changed their scores: each mirrors its live judging).
  void recount(const std::string& session, const std::string& task,
               const std::vector<store::SubmissionRecord>& submissions);
  const Tally* find(const std::string& session, const std::string& task) const;

  // Moves whenever a tally changes.
  uint64_t generation() const { return generation_; }

 private:
  std::map<std::pair<std::string, std::string>, Tally> tallies_;  // by (session, task)
  uint64_t generation_ = 0;
};

// The diagnostics of a session's task (SyntaxChecker::diagnostics).
using DiagnosticsFn = std::function<const std::vector<Diagnostic>&(const std::string& task)>;

ExamSummary summarize(const Session& s, const Scoreboard& scores, const DiagnosticsFn& diagnostics,
                      std::vector<QueueItem> queue, int64_t now_ms);

}  // namespace torchexam
