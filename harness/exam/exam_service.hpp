// exam_service.hpp — the exam, as the daemon keeps it: sessions and their
// timers, the submission queue, the workspace watch, the history of scores.
// The core of torchexamd; it knows nothing of JSON-RPC or sockets (the
// protocol adapter in harness/daemon/ turns messages into these calls).
//
// Threads: every public member is called on the io_context's thread, and
// every listener callback runs there. Grading runs on a pool of
// `concurrency` worker threads, syntax checks on one more; their results are
// posted back to the io thread, which alone touches the store.
//
// Durability: every state change is written to the store before the call
// returns (a submission is stored before its id is returned). recover()
// rebuilds the in-memory state after a restart: sessions with their timers
// (deadlines are wall-clock), watchers, and every queued or running
// submission re-queued (its attempts count says it ran before).
//
// Errors: ServiceError with a kind the adapter maps to a protocol error and a
// message for the candidate.
#pragma once

#include "base/clock.hpp"
#include "config/config.hpp"
#include "doctor/check.hpp"
#include "doctor/forecast.hpp"
#include "grading/compiler.hpp"
#include "grading/grader.hpp"
#include "sandbox/events.hpp"
#include "store/store.hpp"

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <exception>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace torchexam {

class ServiceError : public std::runtime_error {
 public:
  enum class Kind { not_found, exam_closed, conflict, invalid_state, environment_error, invalid_argument };
  ServiceError(Kind kind, std::string message) : std::runtime_error(std::move(message)), kind(kind) {}
  Kind kind;
};

struct StartOptions {
  std::filesystem::path environment;  // folder with environment.yaml
  std::filesystem::path workspace;
  std::string mode = "practice";       // "practice" | "exam"
  std::optional<double> duration_s;    // practice only: overrides the environment's
  bool overwrite = false;              // provision into a non-empty workspace (old files kept aside)
};

struct TaskSummary {
  std::string id;
  std::string title;
  std::string metric;
  std::vector<double> ladder;
  double time_budget_s = 0;
  std::filesystem::path folder;
  int best_score = 0;  // maximum over graded submissions
  std::optional<int64_t> best_submission;
  std::string last_verdict;  // of the newest finished submission, "" when none
  int submissions = 0;
  std::vector<Diagnostic> diagnostics;  // from the last syntax check on save
  friend bool operator==(const TaskSummary&, const TaskSummary&) = default;
};

struct QueueItem {
  int64_t submission = 0;
  std::string task;
  std::string state;  // "running" | "queued"
  int position = 0;   // 0 = running, 1.. = waiting
  friend bool operator==(const QueueItem&, const QueueItem&) = default;
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

// env/verify: the environment checks and the stored forecast.
struct VerifyReport {
  std::filesystem::path environment;
  std::vector<doctor::CheckResult> checks;
  std::vector<doctor::Forecast> forecasts;  // from the last `torchexam doctor` run, possibly none
  bool ok = false;
  friend bool operator==(const VerifyReport&, const VerifyReport&) = default;
};

// Checks this machine against an environment (the daemon passes doctor::verify).
using VerifyFn = std::function<std::vector<doctor::CheckResult>(const config::Environment&)>;

struct ProgressNote {
  std::string session;
  int64_t submission = 0;
  std::string task;
  std::string stage;  // "queued", "build", "train", "evaluate", "score"
  int queue_position = 0;
  std::optional<events::Progress> progress;
  friend bool operator==(const ProgressNote&, const ProgressNote&) = default;
};

struct RestoreResult {
  std::filesystem::path file;         // the solution file written
  std::string previous_hash;          // artifact holding what it replaced
  std::filesystem::path previous_copy;  // and a copy beside it
  friend bool operator==(const RestoreResult&, const RestoreResult&) = default;
};

class ExamListener {
 public:
  virtual ~ExamListener() = default;
  virtual void on_progress(const ProgressNote&) {}
  virtual void on_finished(const store::SubmissionRecord&) {}
  // Every minute while running; `warning` is set once when 30, 10 and 1
  // minutes are left.
  virtual void on_timer(const store::SessionRecord&, double /*remaining_s*/, std::optional<int> /*warning*/) {}
  // The session closed at its deadline, or was stopped (see its state).
  virtual void on_closed(const store::SessionRecord&) {}
  virtual void on_diagnostics(const std::string& /*session*/, const std::string& /*task*/,
                              const std::filesystem::path& /*file*/, const std::vector<Diagnostic>&) {}
};

using GradeFn = std::function<GradeResult(const GradeRequest&, GradeObserver&)>;

// Watching a workspace is an effect the daemon provides (harness/daemon/
// watcher.hpp): the factory starts watching `root` and calls `changed` on the
// io thread with changed files; dropping the returned handle stops it.
using WatchFactory = std::function<std::shared_ptr<void>(
    const std::filesystem::path& root, std::function<void(const std::vector<std::filesystem::path>&)> changed)>;

struct ServiceOptions {
  int concurrency = 1;
  std::filesystem::path cache_dir;  // build cache (empty: paths::cache_dir())
  std::filesystem::path jobs_dir;   // job folders (required)
  WatchFactory watch;               // empty: no watching, no syntax checks on save
  double syntax_timeout_s = 30;
  // Niceness of the grading jobs' compilers and runners (inherited from the
  // worker threads that start them): training yields the CPU to the daemon
  // and the candidate's editor, and loses nothing when the machine is
  // otherwise idle. 0 leaves it alone. Syntax checks on save keep 0.
  int job_nice = 0;
  // Where gradings run, made by the daemon's main and outliving the
  // service; nullptr: a local environment grades here, a cluster one fails
  // with internal_error (grader.hpp).
  BackendRegistry* backends = nullptr;
  VerifyFn verify;                  // empty: exam/start checks nothing, env/verify reports no checks
  std::filesystem::path state_dir;  // where the forecast is stored (empty: paths::state_dir())
};

class ExamService {
 public:
  ExamService(boost::asio::io_context& io, const Clock& clock, store::Store& store, ServiceOptions options,
              GradeFn grade_fn = grade);
  ~ExamService();
  ExamService(const ExamService&) = delete;
  ExamService& operator=(const ExamService&) = delete;

  void add_listener(ExamListener* l);
  void remove_listener(ExamListener* l);

  // After a restart: sessions, timers, watchers, and the unfinished queue.
  void recover();

  // The answer of an *_async call, on the io thread: the ServiceError (or
  // other exception) that refused it, or null and the result. Not called if
  // the service is destroyed first.
  template <class R>
  using Done = std::function<void(std::exception_ptr error, R result)>;

  // Runs ServiceOptions::verify first: in exam mode a failed check refuses
  // the start (environment_error, one line per failed check with its fix);
  // in practice mode the failed and warned checks come back in `checks`.
  // Blocks for the checks (about a second): the daemon uses start_async.
  ExamSummary start(const StartOptions& o);
  // The same, with the checks on a thread of their own: the io thread goes
  // on serving meanwhile. Bad options and an open session in the workspace
  // throw at once; so does a second start of a workspace whose first one is
  // still checking. Everything else comes through `done`.
  void start_async(const StartOptions& o, Done<ExamSummary> done);
  // The checks of `environment` (blocking: a few seconds) and its stored
  // forecast; verify_async runs it off the io thread.
  VerifyReport verify(const std::filesystem::path& environment) const;
  void verify_async(const std::filesystem::path& environment, Done<VerifyReport> done);
  // `session` may be "" when exactly one session is open (or `workspace`
  // names one): resolve() picks it or throws.
  std::string resolve(const std::string& session, const std::filesystem::path& workspace = {}) const;
  ExamSummary status(const std::string& session) const;
  // Changes whenever anything status() reports may have changed, except the
  // clock (remaining_s, deadline_ms): a cached status is good while this is
  // unchanged, with the clock fields taken from clock_fields().
  uint64_t generation() const;
  struct ClockFields {
    double remaining_s = 0;
    int64_t deadline_ms = 0;
  };
  ClockFields clock_fields(const std::string& session) const;
  std::vector<store::SessionRecord> sessions() const;
  ExamSummary stop(const std::string& session);
  ExamSummary pause(const std::string& session);
  ExamSummary resume(const std::string& session);

  // Snapshots <workspace>/<task>/<file> and queues it; returns the id at once.
  int64_t submit(const std::string& session, const std::string& task, const std::string& file = "solution.cpp");
  std::vector<store::SubmissionRecord> history(const std::string& session, const std::string& task) const;
  store::SubmissionRecord submission(int64_t id) const;
  std::vector<std::string> submission_events(int64_t id) const;
  std::string source_of(int64_t id) const;
  int queue_position(int64_t id) const;  // 0 running, 1.. waiting, -1 not in the queue
  bool cancel(int64_t id);
  RestoreResult restore(int64_t id);

  // Timers: closes sessions whose deadline passed, sends timer notes and
  // warnings. The daemon calls it every second; tests call it after moving a
  // FakeClock.
  void tick();

  // For tests and shutdown: true when no job runs or waits and no check runs.
  bool idle() const;
  // Cancels running jobs and waits for the worker threads.
  void shutdown();

 private:
  struct PendingStart;
  PendingStart prepare_start(const StartOptions& o) const;                            // io thread
  std::vector<doctor::CheckResult> start_checks(const PendingStart& p) const;         // any thread
  ExamSummary finish_start(PendingStart p, std::vector<doctor::CheckResult> problems);  // io thread
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A session's deadline at `now_ms` (a paused session's moves with the clock)
// and the time left (never below zero; zero once closed or stopped).
int64_t deadline_ms(const store::SessionRecord& s, int64_t now_ms);
double remaining_seconds(const store::SessionRecord& s, int64_t now_ms);

}  // namespace torchexam
