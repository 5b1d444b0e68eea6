#include "exam/status.hpp"

#include "exam/states.hpp"
#include "grading/grade_json.hpp"

namespace torchexam {
namespace fs = std::filesystem;

void Scoreboard::count(const store::SubmissionRecord& r, bool is_new) {
  const SubmissionState state = state_of(r);  // throws for a text it does not know, before counting
  Tally& t = tallies_[{r.session_id, r.task}];
  ++generation_;
  if (is_new) ++t.submissions;
  if (state != SubmissionState::finished) return;
  if (!t.best_submission || r.score > t.best_score) {
    t.best_score = r.score;
    t.best_submission = r.id;
    t.best_fingerprint = stored_fingerprint(r.result_json);
  }
  t.last_verdict = r.verdict.value_or("");
}

void Scoreboard::recount(const std::string& session, const std::string& task,
                         const std::vector<store::SubmissionRecord>& submissions) {
  tallies_.erase({session, task});
  ++generation_;
  for (const auto& r : submissions) count(r, true);
}

const Scoreboard::Tally* Scoreboard::find(const std::string& session, const std::string& task) const {
  auto it = tallies_.find({session, task});
  return it == tallies_.end() ? nullptr : &it->second;
}

ExamSummary summarize(const Session& s, const Scoreboard& scores, const DiagnosticsFn& diagnostics,
                      std::vector<QueueItem> queue, int64_t now_ms) {
  ExamSummary out;
  out.session = s.rec;
  out.remaining_s = remaining_seconds(s.rec, now_ms);
  out.deadline_ms = deadline_ms(s.rec, now_ms);
  out.pass_mark = s.env->pass_mark;
  for (const auto& t : s.env->tasks) {
    TaskSummary ts;
    ts.id = t.id;
    ts.title = t.title;
    ts.metric = t.metric;
    ts.ladder = t.ladder.thresholds;
    ts.time_budget_s = t.time_budget_s;
    ts.folder = fs::path(s.rec.workspace) / t.id;
    if (const auto* tally = scores.find(s.rec.id, t.id)) {
      ts.submissions = tally->submissions;
      ts.best_score = tally->best_score;
      ts.best_submission = tally->best_submission;
      ts.last_verdict = tally->last_verdict;
      ts.fingerprint = tally->best_fingerprint;
    }
    ts.diagnostics = diagnostics(t.id);
    out.total_score += ts.best_score;
    out.tasks.push_back(std::move(ts));
  }
  out.passed = out.total_score >= out.pass_mark;
  out.queue = std::move(queue);
  return out;
}

}  // namespace torchexam
