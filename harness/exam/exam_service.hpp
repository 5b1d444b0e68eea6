// exam_service.hpp — the exam, as the daemon keeps it: sessions and their
// timers, the submission queue, the workspace watch, the history of scores.
// The core of torchexamd; it knows nothing of JSON-RPC or sockets (the
// protocol adapter in harness/daemon/ turns messages into these calls).
//
// ExamService is a facade over the pieces in this folder, each with its own
// contract: SessionBook (sessions, deadlines, timers), JobQueue (the
// submissions' order, slots and states) fed by JobWorkers (the grading
// threads), RejudgeBook (regrade sets, run on the same queue behind the
// candidates' jobs), SyntaxChecker (checks on save), EnvironmentProbe (exam/start's
// and env/verify's machine checks), SpeculativeBuilds (a clean save built
// before it is submitted), ArtifactKeeper and restore_source()
// (what the store keeps of a job), Scoreboard and summarize() (status).
//
// Threads: every public member is called on the io_context's thread, and
// every listener callback runs there. Grading runs on a pool of
// `concurrency` worker threads, syntax checks on one more, machine checks
// and job-folder pruning on another; their results are posted back to the
// io thread, which alone touches the store.
//
// Durability: every state change is written to the store before the call
// returns (a submission is stored before its id is returned). recover()
// rebuilds the in-memory state after a restart: sessions with their timers
// (deadlines are wall-clock), watchers, and every queued or running
// submission re-queued (its attempts count says it ran before), and every
// running regrade set's unfinished items.
//
// Errors: ServiceError (service_error.hpp) with a kind the adapter maps to a
// protocol error and a message for the candidate.
#pragma once

#include "base/clock.hpp"
#include "config/config.hpp"
#include "exam/artifacts.hpp"
#include "exam/environment_probe.hpp"
#include "exam/io_handoff.hpp"
#include "exam/job_workers.hpp"
#include "exam/listener.hpp"
#include "exam/rejudge_book.hpp"
#include "exam/service_error.hpp"
#include "exam/speculative_builds.hpp"
#include "exam/states.hpp"
#include "exam/status.hpp"
#include "exam/syntax_checker.hpp"
#include "grading/grader.hpp"
#include "store/store.hpp"

#include <boost/asio/io_context.hpp>

#include <cstdint>
#include <exception>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace torchexam {

struct StartOptions {
  std::filesystem::path environment;  // folder with environment.yaml
  std::filesystem::path workspace;
  std::string mode = "practice";       // "practice" | "exam"
  std::optional<double> duration_s;    // practice only: overrides the environment's
  bool overwrite = false;              // provision into a non-empty workspace (old files kept aside)
};

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
  // Who checks a saved solution.cpp (syntax_checker.hpp); null: g++
  // -fsyntax-only. The daemon gives a warm clangd (--save-checker). Told
  // when a session ends.
  std::shared_ptr<SaveChecker> save_checker;
  // Builds of cleanly saved solutions before they are submitted
  // (speculative_builds.hpp): `idle` starts one only while no local grading
  // runs; `off` never. Needs `watch`; a session whose environment grades on
  // a cluster gets none.
  SpeculationMode speculation = SpeculationMode::idle;
  // Niceness of the grading jobs' compilers and runners (inherited from the
  // worker threads that start them): training yields the CPU to the daemon
  // and the candidate's editor, and loses nothing when the machine is
  // otherwise idle. 0 leaves it alone. Syntax checks on save keep 0.
  int job_nice = 0;
  // Where gradings run, made by the daemon's main and outliving the
  // service. Required by the real grader (grader.hpp: without it every
  // grading is an internal_error saying so); a GradeFn fake may go without.
  BackendRegistry* backends = nullptr;
  VerifyFn verify;                  // empty: exam/start checks nothing, env/verify reports no checks
  std::filesystem::path state_dir;  // where the forecast is stored (empty: paths::state_dir())
  RescoreFn rescore;                // a regrade's rescore; empty: torchexam::rescore (grading/rescore.hpp)
};

class ExamService {
 public:
  // Throws std::invalid_argument without options.jobs_dir.
  ExamService(boost::asio::io_context& io, const Clock& clock, store::Store& store, ServiceOptions options,
              GradeFn grade_fn = grade);
  ~ExamService();
  ExamService(const ExamService&) = delete;
  ExamService& operator=(const ExamService&) = delete;

  void add_listener(ExamListener* l);
  void remove_listener(ExamListener* l);

  // After a restart: sessions, timers, watchers, and the unfinished queue.
  // Throws ServiceError (invalid_state) when the store holds a session or
  // submission state this build does not know.
  void recover();

  // The answer of an *_async call, on the io thread: the ServiceError (or
  // other exception) that refused it, or null and the result. Not called if
  // the service is destroyed first.
  template <class R>
  using Done = Reply<R>;

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
  // The session's time grows by `seconds` (SessionBook::extend).
  ExamSummary extend(const std::string& session, double seconds);

  // Snapshots <workspace>/<task>/<file> and queues it; returns the id at once.
  int64_t submit(const std::string& session, const std::string& task, const std::string& file = "solution.cpp");
  // Submissions as they may be shown: while a session hides its task
  // diagnostics (report_visibility.hpp), the results these give, and those
  // of on_finished notes, have none; the store keeps them.
  std::vector<store::SubmissionRecord> history(const std::string& session, const std::string& task) const;
  store::SubmissionRecord submission(int64_t id) const;
  // Every grading of `r` (a record history() or submission() gave), oldest
  // first: its own and one per regrade, live or not (docs/rejudging.md),
  // their results shown as history() shows one.
  std::vector<store::JudgingRecord> judgings(const store::SubmissionRecord& r) const;
  // Whether the session's task diagnostics are shown now (false for a
  // session this service does not hold).
  bool diagnostics_shown(const std::string& session) const;
  std::vector<std::string> submission_events(int64_t id) const;
  std::string source_of(int64_t id) const;
  int queue_position(int64_t id) const;  // 0 running, 1.. waiting, -1 not in the queue
  bool cancel(int64_t id);
  RestoreResult restore(int64_t id);

  // Rejudging sets (rejudge_book.hpp). regrade() selects every finished
  // submission of exactly one of: selection.submission; selection.session
  // (an id, resolve() it first), with selection.task or all tasks; or
  // selection.environment (a folder: every session of it this daemon
  // holds), with selection.task or all tasks. The set regrades them with
  // their environment as it is on disk now. Throws ServiceError:
  // invalid_argument (a selection that names none or several, nothing
  // graded), not_found, conflict (an open set holds one of them),
  // environment_error (the environment no longer loads).
  RejudgeSet regrade(RejudgeKind kind, const RejudgeSelection& selection, const std::string& reason);
  RejudgeSet rejudge(int64_t id) const;
  RejudgeSet apply_rejudge(int64_t id);
  RejudgeSet cancel_rejudge(int64_t id);

  // Timers: closes sessions whose deadline passed, sends timer notes and
  // warnings. The daemon calls it every second; tests call it after moving a
  // FakeClock.
  void tick();

  // What the speculative builds did so far.
  const SpeculationCounts& speculation_counts() const;

  // For tests and shutdown: true when no job runs or waits and no check runs
  // (a speculative build may still run: it is background work).
  bool idle() const;
  // Cancels running jobs and waits for the worker threads.
  void shutdown();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torchexam
