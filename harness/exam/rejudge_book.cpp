#include "exam/rejudge_book.hpp"

#include "base/json_shape.hpp"
#include "exam/service_error.hpp"
#include "grading/grade_json.hpp"
#include "grading/repeat.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace torchexam {
namespace json = boost::json;
using Kind = ServiceError::Kind;
using store::JudgingRecord;
using store::RejudgeItemRecord;
using store::RejudgeRecord;

namespace {

bool is_open(RejudgeState s) { return s == RejudgeState::running || s == RejudgeState::review; }

JudgingOutcome outcome_of(const JudgingRecord& j) { return {j.verdict, j.metric, j.score}; }

std::string set_command(std::string_view action, int64_t id) {
  return fmt::format("torchexam regrade --{} {}", action, id);
}

}  // namespace

RejudgeBook::RejudgeBook(const Clock& clock, store::Store& store, JobQueue& queue, ExamListener& out, TargetFn target,
                         AppliedFn applied)
    : clock_(clock), db_(store), queue_(queue), out_(out), target_(std::move(target)), applied_(std::move(applied)) {
  queue_.set_regrade_listener(this);
}

RejudgeSet RejudgeBook::create(RejudgeKind kind, const RejudgeSelection& selection, const std::string& reason,
                               const std::vector<store::SubmissionRecord>& chosen) {
  std::vector<store::SubmissionRecord> finished;
  for (const auto& s : chosen)
    if (state_of(s) == SubmissionState::finished) finished.push_back(s);
  if (finished.empty())
    throw ServiceError(Kind::invalid_argument,
                       "nothing to regrade: the selection has no graded submission (see torchexam history TASK)");
  // Only one open set may hold a submission.
  std::map<int64_t, int64_t> held;  // submission -> open set
  for (const auto& r : db_.rejudges())
    if (is_open(state_of(r)))
      for (const auto& item : db_.rejudge_items(r.id)) held[item.submission_id] = r.id;
  for (const auto& s : finished)
    if (auto it = held.find(s.id); it != held.end())
      throw ServiceError(Kind::conflict,
                         fmt::format("submission {} is already in regrade set {}, which is {}; apply or cancel it "
                                     "first ({} or {})",
                                     s.id, it->second, db_.rejudge(it->second)->state, set_command("apply", it->second),
                                     set_command("cancel", it->second)));
  std::vector<JobTarget> targets;  // before anything is stored: an environment that no longer loads refuses the set
  for (const auto& s : finished) targets.push_back(target_(s));

  std::vector<RejudgeItemRecord> items;
  for (const auto& s : finished) {
    const auto judgings = db_.judgings(s.id);
    const auto live = std::find_if(judgings.begin(), judgings.end(), [](const JudgingRecord& j) { return j.live; });
    if (live == judgings.end())
      throw ServiceError(Kind::invalid_state,
                         fmt::format("submission {} is finished but has no live judging in the store", s.id));
    items.push_back({0, s.id, live->id, std::nullopt, std::string(to_string(RejudgeItemState::queued)), ""});
  }
  RejudgeRecord r;
  r.kind = std::string(to_string(kind));
  r.selection = json::serialize(json::value_from(selection));
  r.state = std::string(to_string(RejudgeState::running));
  r.created_at_ms = clock_.now_ms();
  r.reason = reason;
  const int64_t id = db_.add_rejudge(r, items);
  for (size_t i = 0; i < items.size(); ++i) {
    items[i].rejudge_id = id;
    Job job;
    job.id = items[i].submission_id;
    job.task = finished[i].task;
    job.target = targets[i];
    job.regrade = RegradeJob{id, kind == RejudgeKind::rescore, db_.judging(items[i].old_judging)->result_json};
    queue_.add_regrade(std::move(job));
  }
  progress(id);
  return get(id);
}

void RejudgeBook::queue_item(int64_t rejudge, RejudgeKind kind, const RejudgeItemRecord& item) {
  const auto sub = db_.submission(item.submission_id);
  Job job;
  job.id = item.submission_id;
  job.task = sub->task;
  try {
    job.target = target_(*sub);
  } catch (const std::exception& e) {
    // Its session or environment is gone: the item ends with its old judging.
    JudgingRecord same = *db_.judging(item.old_judging);
    db_.finish_rejudge_item(rejudge, same, fmt::format("not regraded after the restart: {}", e.what()));
    return;
  }
  job.regrade = RegradeJob{rejudge, kind == RejudgeKind::rescore, db_.judging(item.old_judging)->result_json};
  queue_.add_regrade(std::move(job));
}

void RejudgeBook::recover() {
  for (const auto& r : db_.rejudges()) {
    if (state_of(r) != RejudgeState::running) continue;
    for (auto item : db_.rejudge_items(r.id)) {
      const RejudgeItemState state = state_of(item);
      if (state == RejudgeItemState::done) continue;
      if (state == RejudgeItemState::running)  // it was being regraded when the daemon stopped
        db_.set_rejudge_item_state(r.id, item.submission_id, std::string(to_string(RejudgeItemState::queued)));
      queue_item(r.id, kind_of(r), item);
    }
    progress(r.id);
  }
}

store::RejudgeRecord RejudgeBook::record(int64_t id) const {
  auto r = db_.rejudge(id);
  if (!r) throw ServiceError(Kind::not_found, fmt::format("no regrade set {}", id));
  return *r;
}

RejudgeSet RejudgeBook::get(int64_t id) const {
  const RejudgeRecord r = record(id);
  RejudgeSet out;
  out.id = r.id;
  out.kind = kind_of(r);
  out.state = state_of(r);
  out.created_at_ms = r.created_at_ms;
  out.reason = r.reason;
  try {
    out.selection = json::value_to<RejudgeSelection>(json::parse(r.selection));
  } catch (const std::exception&) {
    // A selection this build cannot read names nothing; the items still do.
  }
  for (const auto& item : db_.rejudge_items(id)) {
    DeltaRow row;
    row.submission = item.submission_id;
    row.state = state_of(item);
    const auto sub = db_.submission(item.submission_id);
    row.session = sub->session_id;
    row.task = sub->task;
    const JudgingRecord old = *db_.judging(item.old_judging);
    row.before = outcome_of(old);
    if (!item.note.empty()) row.reasons.push_back(item.note);
    if (item.new_judging) {
      ++out.done;
      const JudgingRecord now = *db_.judging(*item.new_judging);
      row.after = outcome_of(now);
      row.delta_score = now.score - old.score;
      if (*row.after != row.before) ++out.changed;
      const auto f0 = stored_fingerprint(old.result_json), f1 = stored_fingerprint(now.result_json);
      if (f0 && f1)
        for (auto& reason : fingerprint_differences(*f0, *f1)) row.reasons.push_back(std::move(reason));
    }
    out.rows.push_back(std::move(row));
  }
  return out;
}

void RejudgeBook::regrade_started(const Job& job) {
  db_.set_rejudge_item_state(job.regrade->rejudge, job.id, std::string(to_string(RejudgeItemState::running)));
}

void RejudgeBook::regrade_finished(const Job& job, const JobOutcome& outcome) {
  const int64_t id = job.regrade->rejudge;
  if (outcome.result.cancelled) return;  // the set was cancelled: the item stays as it was
  const auto items = db_.rejudge_items(id);
  const auto item = std::find_if(items.begin(), items.end(),
                                 [&](const RejudgeItemRecord& i) { return i.submission_id == job.id; });
  if (item == items.end() || item->new_judging) return;
  const GradeResult& r = outcome.result;
  JudgingRecord j;
  j.submission_id = job.id;
  j.verdict = std::string(to_string(r.verdict));
  j.metric = r.metric;
  j.score = r.score;
  j.result_json = json::serialize(json::value_from(GradeRecord{r, outcome.artifacts}));
  // A rescore is the same run: its curve is the old judging's.
  j.curve_json = job.regrade->rescore ? db_.judging(item->old_judging)->curve_json
                                      : json::serialize(json::value_from(outcome.curve));
  j.finished_at_ms = clock_.now_ms();
  std::string note = outcome.note;
  if (r.verdict == Verdict::internal_error)
    note = fmt::format("the harness could not regrade it ({}); applying the set keeps its old judging", r.message);
  db_.finish_rejudge_item(id, std::move(j), note);
  progress(id);
}

void RejudgeBook::progress(int64_t id) {
  RejudgeRecord r = record(id);
  const auto items = db_.rejudge_items(id);
  const int done = static_cast<int>(std::count_if(items.begin(), items.end(), [](const RejudgeItemRecord& i) {
    return state_of(i) == RejudgeItemState::done;
  }));
  RejudgeState state = state_of(r);
  if (state == RejudgeState::running && done == static_cast<int>(items.size())) {
    state = RejudgeState::review;
    db_.set_rejudge_state(id, std::string(to_string(state)));
  }
  out_.on_rejudge({id, state, done, static_cast<int>(items.size())});
}

RejudgeSet RejudgeBook::apply(int64_t id) {
  const RejudgeRecord r = record(id);
  const RejudgeState state = state_of(r);
  if (state != RejudgeState::review)
    throw ServiceError(Kind::invalid_state,
                       state == RejudgeState::running
                           ? fmt::format("regrade set {} is still running; wait until it is in review ({})", id,
                                         set_command("show", id))
                           : fmt::format("regrade set {} is {}; only a set in review can be applied", id, r.state));
  std::vector<int64_t> made_live;
  std::vector<store::SubmissionRecord> mirrored;
  std::set<std::pair<std::string, std::string>> touched;
  for (const auto& item : db_.rejudge_items(id)) {
    if (!item.new_judging) continue;
    const JudgingRecord now = *db_.judging(*item.new_judging);
    if (now.verdict == to_string(Verdict::internal_error)) continue;  // the harness's failure never goes live
    const auto record = json_shape::parse_stored<GradeRecord>(now.result_json);
    store::SubmissionRecord s = *db_.submission(item.submission_id);
    const auto rule = target_(s).env->grading.repeat_score;
    s.verdict = now.verdict;
    s.metric = now.metric;
    s.result_json = now.result_json;
    s.curve_json = now.curve_json;
    if (record) {
      s.message = record->grade.message;
      s.detail = record->grade.detail;
    }
    s.score = now.score;
    if (rule != config::Grading::RepeatScore::live) {
      // Over every grading of the source: the older judgings and this one.
      std::vector<int> scores;
      for (const auto& j : db_.judgings(s.id))
        if (j.verdict != to_string(Verdict::internal_error)) scores.push_back(j.score);
      s.score = taken_score(scores, rule);
    }
    made_live.push_back(now.id);
    mirrored.push_back(std::move(s));
    touched.insert({mirrored.back().session_id, mirrored.back().task});
  }
  db_.apply_rejudge(id, made_live, mirrored);
  applied_(touched);
  progress(id);
  return get(id);
}

RejudgeSet RejudgeBook::cancel(int64_t id) {
  const RejudgeRecord r = record(id);
  if (!is_open(state_of(r)))
    throw ServiceError(Kind::invalid_state,
                       fmt::format("regrade set {} is {}; only a running set or one in review can be cancelled", id,
                                   r.state));
  db_.set_rejudge_state(id, std::string(to_string(RejudgeState::cancelled)));
  queue_.cancel_regrades(id);
  progress(id);
  return get(id);
}

}  // namespace torchexam
