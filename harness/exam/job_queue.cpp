#include "exam/job_queue.hpp"

#include "exam/states.hpp"
#include "grading/grade_json.hpp"

#include <boost/json/serialize.hpp>
#include <boost/json/value_from.hpp>

#include <algorithm>

namespace torchexam {
using store::SubmissionRecord;

// A rescore runs no phase: it scores on a local worker whatever the backend.
bool Job::remote() const {
  return !(regrade && regrade->rescore) && target.env->grading.backend != config::Grading::Backend::local;
}

int cluster_slots(const config::Environment& env) { return std::max(1, env.grading.slurm.max_jobs); }

JobQueue::JobQueue(const Clock& clock, store::Store& store, JobRunner& runner, ExamListener& out, int local_slots)
    : clock_(clock), db_(store), runner_(runner), out_(out), local_slots_(std::max(1, local_slots)) {}

SubmissionRecord JobQueue::add(SubmissionRecord rec, JobTarget target) {
  set_state(rec, SubmissionState::queued);
  rec.id = db_.add_submission(rec);
  Job job;
  job.id = rec.id;
  job.task = rec.task;
  job.target = std::move(target);
  enqueue(std::move(job));
  return rec;
}

void JobQueue::recover(const TargetFn& target_of) {
  for (auto rec : db_.unfinished_submissions()) {
    const auto target = target_of(rec);
    if (!target) {
      set_state(rec, SubmissionState::interrupted);
      rec.message = "interrupted: its exam session or task no longer exists";
      rec.finished_at_ms = clock_.now_ms();
      db_.update_submission(rec);
      continue;
    }
    if (state_of(rec) == SubmissionState::running) {
      set_state(rec, SubmissionState::queued);  // it was grading when the daemon stopped: grade it again
      db_.update_submission(rec);
    }
    Job job;
    job.id = rec.id;
    job.task = rec.task;
    job.target = *target;
    job.resume = rec.attempts > 0;
    pending_.push_back(std::move(job));
  }
  ++generation_;
  pump();
}

void JobQueue::add_regrade(Job job) {
  ++generation_;
  regrades_.push_back(std::move(job));
  pump();
}

void JobQueue::cancel_regrades(int64_t rejudge) {
  ++generation_;
  regrades_.erase(std::remove_if(regrades_.begin(), regrades_.end(),
                                 [&](const Job& j) { return j.regrade->rejudge == rejudge; }),
                  regrades_.end());
  for (auto& [key, job] : regrades_running_)
    if (key.first == rejudge) job.cancel->store(true);
}

int JobQueue::position(int64_t id) const {
  if (running_.count(id)) return 0;
  int pos = 1;
  for (const auto& j : pending_) {
    if (j.id == id) return pos;
    ++pos;
  }
  return -1;
}

bool JobQueue::cancel(int64_t id) {
  if (auto it = running_.find(id); it != running_.end()) {
    it->second.cancel->store(true);  // the runner kills the job's process tree
    return true;
  }
  auto it = std::find_if(pending_.begin(), pending_.end(), [&](const Job& j) { return j.id == id; });
  if (it == pending_.end()) return false;
  running_[id] = std::move(*it);  // finish() takes it from there
  pending_.erase(it);
  JobOutcome cancelled;
  cancelled.result.cancelled = true;
  finish(id, cancelled);
  return true;
}

std::vector<QueueItem> JobQueue::items(const std::string& session) const {
  std::vector<QueueItem> out;
  for (const auto& [id, job] : running_)
    if (job.target.session == session)
      out.push_back({id, job.task, SubmissionState::running, 0});
  int pos = 1;
  for (const auto& job : pending_) {
    if (job.target.session == session)
      out.push_back({job.id, job.task, SubmissionState::queued, pos});
    ++pos;
  }
  return out;
}

void JobQueue::stop() {
  stopping_ = true;
  for (auto& [id, job] : running_) job.cancel->store(true);
  for (auto& [key, job] : regrades_running_) job.cancel->store(true);
}

void JobQueue::enqueue(Job job) {
  ++generation_;
  pending_.push_back(std::move(job));
  const Job& j = pending_.back();
  out_.on_progress({j.target.session, j.id, j.task, Stage::queued, position(j.id), std::nullopt});
  pump();
}

// Starts waiting jobs, in order, while their pool has a free slot; then
// regrade jobs, while no candidate's job waits for their pool. Counts afresh
// after each start: a job that fails to start ends at once, and its
// finish() pumps too.
void JobQueue::pump() {
  while (!stopping_) {
    int local = 0, remote = 0;
    for (const auto& [id, j] : running_) ++(j.remote() ? remote : local);
    for (const auto& [key, j] : regrades_running_) ++(j.remote() ? remote : local);
    const auto fits = [&](const Job& j) {
      if (!j.remote()) return local < local_slots_;
      if (cluster_slots_ == 0) cluster_slots_ = cluster_slots(*j.target.env);
      return remote < cluster_slots_;
    };
    if (auto it = std::find_if(pending_.begin(), pending_.end(), fits); it != pending_.end()) {
      Job job = std::move(*it);
      pending_.erase(it);
      ++generation_;
      run(job);
      continue;
    }
    bool local_waits = false, remote_waits = false;
    for (const auto& j : pending_) (j.remote() ? remote_waits : local_waits) = true;
    auto it = std::find_if(regrades_.begin(), regrades_.end(),
                           [&](const Job& j) { return !(j.remote() ? remote_waits : local_waits) && fits(j); });
    if (it == regrades_.end()) return;
    Job job = std::move(*it);
    regrades_.erase(it);
    ++generation_;
    run_regrade(std::move(job));
  }
}

void JobQueue::run_regrade(Job job) {
  const RegradeKey key{job.regrade->rejudge, job.id};
  const Job& held = regrades_running_[key] = std::move(job);
  if (regrades_out_) regrades_out_->regrade_started(held);
  try {
    runner_.start(held, *db_.submission(key.second), [this, key](JobOutcome outcome) { finish_regrade(key, outcome); });
  } catch (const std::exception& e) {
    JobOutcome failed;
    failed.result.verdict = Verdict::internal_error;
    failed.result.message = std::string("could not start the regrade: ") + e.what();
    finish_regrade(key, failed);
  }
}

void JobQueue::finish_regrade(RegradeKey key, const JobOutcome& outcome) {
  ++generation_;
  auto it = regrades_running_.find(key);
  const Job job = std::move(it->second);
  regrades_running_.erase(it);
  // A stopping daemon leaves the item as it is in the store: the next one runs it again.
  if (!(outcome.result.cancelled && stopping_) && regrades_out_) regrades_out_->regrade_finished(job, outcome);
  prune();
  pump();
}

void JobQueue::run(const Job& job) {
  SubmissionRecord rec = *db_.submission(job.id);
  set_state(rec, SubmissionState::running);
  rec.attempts += 1;
  db_.update_submission(rec);
  running_[job.id] = job;
  try {
    runner_.start(job, rec, [this, id = job.id](JobOutcome outcome) { finish(id, outcome); });
  } catch (const std::exception& e) {
    JobOutcome failed;
    failed.result.verdict = Verdict::internal_error;
    failed.result.message = std::string("could not start grading: ") + e.what();
    finish(job.id, failed);
  }
}

void JobQueue::finish(int64_t id, const JobOutcome& outcome) {
  ++generation_;
  running_.erase(id);
  const GradeResult& r = outcome.result;
  SubmissionRecord rec = *db_.submission(id);
  if (r.cancelled && stopping_) {
    set_state(rec, SubmissionState::queued);  // the daemon is stopping: grade it again after the restart
  } else if (r.cancelled) {
    set_state(rec, SubmissionState::cancelled);
    rec.message = "cancelled";
    rec.finished_at_ms = clock_.now_ms();
  } else {
    set_state(rec, SubmissionState::finished);  // stored with its live judging (finish_submission)
    rec.verdict = std::string(to_string(r.verdict));
    rec.metric = r.metric;
    rec.score = r.score;
    rec.message = r.message;
    rec.detail = r.detail;
    rec.result_json = boost::json::serialize(boost::json::value_from(GradeRecord{r, outcome.artifacts}));
    rec.curve_json = boost::json::serialize(boost::json::value_from(outcome.curve));
    rec.finished_at_ms = clock_.now_ms();
  }
  if (state_of(rec) == SubmissionState::finished) db_.finish_submission(rec);
  else db_.update_submission(rec);
  if (state_of(rec) != SubmissionState::queued) out_.on_finished(rec);
  prune();
  pump();
}

void JobQueue::prune() {
  std::set<int64_t> busy;
  for (const auto& j : pending_) busy.insert(j.id);
  for (const auto& [job_id, j] : running_) busy.insert(job_id);
  runner_.prune(busy);
}

}  // namespace torchexam
