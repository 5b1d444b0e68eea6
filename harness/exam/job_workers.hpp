// job_workers.hpp — the JobRunner the daemon uses: grades each job on a
// pool of worker threads and reports its progress and outcome on the io
// thread.
//
// Local jobs run on `concurrency` threads (the queue never starts more);
// cluster jobs on a pool of their own, made with the first one and sized by
// cluster_slots() of its environment, each thread asleep in the scheduler's
// poll. A job works in <jobs_dir>/<submission>-<attempt>, holding it in use
// (JobDirInUse) until its artifacts are stored; a resumed cluster job picks
// up the folder its last attempt left (its scheduler job may still write
// there). Progress events go to the EventLog from the worker; phase and
// progress notes to the ExamListener on the io thread. Finished jobs'
// checkpoint and logs are stored by the worker (ArtifactKeeper) before the
// outcome is posted. Old job folders are pruned on the housekeeping thread.
//
// Threads: start(), prune() and join() on the io thread; `grade` runs on
// the worker threads, and must return when the job's cancel flag is set.
// Failure: start() throws when it cannot lay out the job (the queue ends
// the job with internal_error); an exception from `grade` becomes an
// internal_error verdict with its text.
//
// A regrade job (Job::regrade) works in <jobs_dir>/regrade-<set>-<submission>,
// made afresh: a retrain grades the stored source there as above; a rescore
// writes the stored predictions there and runs `rescore` on a local worker
// (no runner), its folder removed once scored. A regrade sends no progress
// notes and adds nothing to its submission's events: only its outcome
// (with the training curve) goes back.
#pragma once

#include "exam/artifacts.hpp"
#include "exam/io_handoff.hpp"
#include "exam/job_queue.hpp"
#include "exam/listener.hpp"
#include "grading/grader.hpp"
#include "grading/rescore.hpp"
#include "store/event_log.hpp"
#include "store/store.hpp"

#include <boost/asio/thread_pool.hpp>

#include <filesystem>
#include <functional>
#include <memory>
#include <set>
#include <string>

namespace torchexam {

using GradeFn = std::function<GradeResult(const GradeRequest&, GradeObserver&)>;
// How a regrade's rescore is made (grading/rescore.hpp; a fake in tests).
using RescoreFn = std::function<Rescored(const RescoreRequest&)>;

struct JobWorkersOptions {
  int concurrency = 1;
  std::filesystem::path jobs_dir;   // required
  std::filesystem::path cache_dir;  // passed on to the grader (empty: its default)
  BackendRegistry* backends = nullptr;  // passed on to the grader (ServiceOptions::backends)
  // Niceness of the worker threads, inherited by the compilers and runners
  // they start (ServiceOptions::job_nice); 0 leaves it alone.
  int job_nice = 0;
};

class JobWorkers final : public JobRunner {
 public:
  // Every reference must outlive the workers; `store` is the io thread's.
  JobWorkers(const IoHandoff& io, store::Store& store, EventLog& events, ArtifactKeeper& artifacts,
             WorkerThreads& housekeeping, ExamListener& out, JobWorkersOptions options, GradeFn grade,
             RescoreFn rescore = torchexam::rescore);

  void start(const Job& job, const store::SubmissionRecord& rec, Done done) override;
  void prune(const std::set<int64_t>& busy) override;
  // Waits for every job; their outcomes are posted to the io thread.
  void join();

 private:
  class Observer;
  void apply_scheduling() const;
  void start_rescore(const Job& job, const std::filesystem::path& dir, Done done);

  const IoHandoff& io_;
  store::Store& db_;
  EventLog& events_;
  ArtifactKeeper& artifacts_;
  WorkerThreads& housekeeping_;
  ExamListener& out_;
  const JobWorkersOptions opts_;
  const GradeFn grade_;
  const RescoreFn rescore_;
  boost::asio::thread_pool local_;
  std::unique_ptr<boost::asio::thread_pool> cluster_;
};

}  // namespace torchexam
