// job_queue.hpp — the submissions waiting for grading and those being
// graded, in submission order, and the state each has in the store.
//
// A submission is queued by add() (stored first), started when its pool has
// a free slot — local jobs share `local_slots`, cluster jobs (an
// environment whose grading backend is a scheduler) wait in the
// scheduler's queue, not ours, and take one of cluster_slots() of the first
// such environment — and finished when its JobRunner reports the outcome.
// A job that waits never blocks a later job of the other pool. recover()
// re-queues what a stopped daemon left: a running submission is queued again
// (its attempts count says it ran before); one whose session or task is
// gone is marked interrupted. The store holds every state change before the
// call that made it returns.
//
// Regrade jobs (a rejudging set's, rejudge_book.hpp) wait in a queue of
// their own, behind every candidate: one starts only when a slot of its
// pool is free and no candidate's job waits for that pool. They never
// change their submission's record; their start and end go to the
// RegradeListener (set_regrade_listener), not to the ExamListener.
//
// Notes go to the ExamListener given at construction: on_progress "queued"
// when a job joins the queue, on_finished when it ends (finished or
// cancelled; not when stop() sends it back to the queue).
//
// Threads: the io thread only; the JobRunner's `done` must be called there.
// Failure: a job the runner cannot start (it throws) ends at once with
// internal_error and the reason, never holding a slot; store errors pass
// through to the caller.
#pragma once

#include "base/clock.hpp"
#include "config/config.hpp"
#include "exam/listener.hpp"
#include "grading/grade_json.hpp"  // CurvePoint
#include "grading/grader.hpp"
#include "store/store.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <utility>
#include <string>
#include <vector>

namespace torchexam {

// Where a job's submission belongs: read by the runner, on any thread.
struct JobTarget {
  std::string session;
  std::string workspace;
  std::shared_ptr<const config::Environment> env;  // never null
};

// What makes a job a regrade of a finished submission.
struct RegradeJob {
  int64_t rejudge = 0;  // the set
  bool rescore = false;  // the stored predictions scored again; else built and trained again
  std::string before;    // the judging regraded: its result JSON (a GradeRecord)
};

struct Job {
  int64_t id = 0;  // the submission
  std::string task;
  JobTarget target;
  // Set by cancel() (or stop()); the runner kills the job's processes.
  std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
  bool resume = false;  // re-run after a restart: a cluster job it left may still run
  std::optional<RegradeJob> regrade;  // set for a rejudging set's job

  // Graded by a cluster scheduler: it holds no local slot (a rescore never is).
  bool remote() const;
};

// How many jobs of `env`'s cluster scheduler may run at once (at least 1).
int cluster_slots(const config::Environment& env);

struct JobOutcome {
  GradeResult result;
  std::string note;  // a regrade's: why its result repeats the old one (rescore.hpp)
  std::vector<CurvePoint> curve;                 // training curve, one point per epoch
  std::map<std::string, std::string> artifacts;  // stored files by name: their hashes
};

// Grades jobs for the queue (job_workers.hpp; a fake in tests).
class JobRunner {
 public:
  using Done = std::function<void(JobOutcome)>;
  virtual ~JobRunner() = default;
  // Starts grading `job`, whose record (`rec`, already marked running) has
  // this attempt's number. Calls `done` once, on the io thread, when it
  // ends (a cancelled job with result.cancelled). Throws when it cannot
  // start; then `done` is never called.
  virtual void start(const Job& job, const store::SubmissionRecord& rec, Done done) = 0;
  // After a job ended: job folders of submissions not in `busy` may go.
  virtual void prune(const std::set<int64_t>& busy) = 0;
};

// Hears of regrade jobs (rejudge_book.hpp), on the io thread.
class RegradeListener {
 public:
  virtual ~RegradeListener() = default;
  virtual void regrade_started(const Job& job) = 0;
  // Also when cancelled (result.cancelled), except while the queue stops:
  // then the job is left for the next daemon to run again.
  virtual void regrade_finished(const Job& job, const JobOutcome& outcome) = 0;
};

struct QueueItem {
  int64_t submission = 0;
  std::string task;
  SubmissionState state = SubmissionState::queued;  // running or queued
  int position = 0;   // 0 = running, 1.. = waiting
  friend bool operator==(const QueueItem&, const QueueItem&) = default;
};

class JobQueue {
 public:
  // Every reference must outlive the queue.
  JobQueue(const Clock& clock, store::Store& store, JobRunner& runner, ExamListener& out, int local_slots);

  // Stores `rec` as a new queued submission and queues it; returns the
  // record as stored (with its id).
  store::SubmissionRecord add(store::SubmissionRecord rec, JobTarget target);
  // After a restart: every unfinished submission in the store, in order.
  // `target_of` says where one belongs, or nullopt when that is gone.
  using TargetFn = std::function<std::optional<JobTarget>(const store::SubmissionRecord&)>;
  void recover(const TargetFn& target_of);

  // Queues a regrade job (job.regrade set) behind every candidate's job.
  void add_regrade(Job job);
  // Drops set `rejudge`'s waiting regrade jobs and stops its running ones
  // (each is reported to the RegradeListener as it ends, cancelled).
  void cancel_regrades(int64_t rejudge);
  void set_regrade_listener(RegradeListener* l) { regrades_out_ = l; }

  int position(int64_t id) const;  // 0 running, 1.. waiting, -1 not in the queue
  // A waiting job ends cancelled at once; a running one is told to stop and
  // ends when its runner reports. False when the job is in neither.
  bool cancel(int64_t id);
  // The running and waiting jobs of one session; positions count every
  // waiting job.
  std::vector<QueueItem> items(const std::string& session) const;
  bool idle() const {
    return pending_.empty() && running_.empty() && regrades_.empty() && regrades_running_.empty();
  }
  // The daemon stops: nothing more starts, running jobs are cancelled and
  // their submissions stay queued in the store, to be graded after the
  // restart.
  void stop();

  // Moves whenever the queue or a submission's record changes.
  uint64_t generation() const { return generation_; }

 private:
  void enqueue(Job job);
  void pump();
  void run(const Job& job);
  void finish(int64_t id, const JobOutcome& outcome);
  using RegradeKey = std::pair<int64_t, int64_t>;  // (set, submission)
  void run_regrade(Job job);
  void finish_regrade(RegradeKey key, const JobOutcome& outcome);
  void prune();

  const Clock& clock_;
  store::Store& db_;
  JobRunner& runner_;
  ExamListener& out_;
  const int local_slots_;
  int cluster_slots_ = 0;  // fixed by the first cluster job
  std::deque<Job> pending_;
  std::map<int64_t, Job> running_;
  std::deque<Job> regrades_;
  std::map<RegradeKey, Job> regrades_running_;
  RegradeListener* regrades_out_ = nullptr;
  bool stopping_ = false;
  uint64_t generation_ = 0;
};

}  // namespace torchexam
