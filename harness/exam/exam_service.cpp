// ExamService: wires the exam's pieces together and answers the daemon's
// calls with them. It owns the pieces and the listeners; it is itself the
// ExamListener every piece reports to (Impl), keeping the scores current
// before it passes each note on to the daemon's listeners.
#include "exam/exam_service.hpp"

#include "base/hash.hpp"
#include "base/paths.hpp"
#include "exam/job_queue.hpp"
#include "exam/provision.hpp"
#include "exam/report_visibility.hpp"
#include "exam/session_book.hpp"
#include "exam/syntax_checker.hpp"
#include "grading/backend/backend.hpp"
#include "store/event_log.hpp"

#include <algorithm>
#include <map>
#include <set>

namespace torchexam {
namespace fs = std::filesystem;
using store::SessionRecord;
using store::SubmissionRecord;
using Kind = ServiceError::Kind;

namespace {

const config::TaskConfig& task_of(const Session& s, const std::string& task) {
  if (const auto* t = s.env->find_task(task)) return *t;
  throw ServiceError(Kind::not_found, s.env->unknown_task(task, "this exam"));
}

JobTarget target_of(const Session& s) { return {s.rec.id, s.rec.workspace, s.env}; }

// exam/start in three steps, so that the checks (which start processes and
// take about a second) can run off the io thread: validate on the io
// thread (prepare), check anywhere, then lay out and open the session on
// the io thread, where the conflict test is made again (another start may
// have opened the workspace in between).
struct PendingStart {
  StartOptions options;
  fs::path env_dir;
  fs::path workspace;
  std::shared_ptr<const config::Environment> env;
  double duration_s = 0;
};

}  // namespace

struct ExamService::Impl final : ExamListener {
  Impl(boost::asio::io_context& io, const Clock& clock_, store::Store& store_, ServiceOptions o, GradeFn grade_fn)
      : clock(clock_),
        db(store_),
        opts(std::move(o)),
        handoff(io),
        event_log(store_),
        artifacts(store_),
        housekeeping(handoff, 1),
        probe(housekeeping, opts.verify, opts.state_dir),
        checker(handoff, *this, opts.syntax_timeout_s, opts.save_checker),
        speculation(handoff, opts.speculation),
        workers(handoff, store_, event_log, artifacts, housekeeping, *this,
                {opts.concurrency, opts.jobs_dir, opts.cache_dir, opts.backends, opts.job_nice},
                std::move(grade_fn), opts.rescore ? opts.rescore : RescoreFn(torchexam::rescore)),
        gate(workers, speculation),
        queue(clock_, store_, gate, *this, opts.concurrency),
        book(clock_, store_, *this, [this](const Session& s) { return watch(s); }),
        rejudges(
            clock_, store_, queue, *this, [this](const SubmissionRecord& r) { return regrade_target(r); },
            [this](const std::set<std::pair<std::string, std::string>>& touched) {
              for (const auto& [session, task] : touched) scores.recount(session, task, db.submissions(session, task));
            }) {}

  const Clock& clock;
  store::Store& db;
  const ServiceOptions opts;
  IoHandoff handoff;
  // Progress events go to the store from the log's thread (the io thread
  // never waits for a commit); declared before the threads that append to it.
  EventLog event_log;
  ArtifactKeeper artifacts;
  // Environment checks and job-folder pruning, off the io thread and out of
  // the way of the syntax checks.
  WorkerThreads housekeeping;
  EnvironmentProbe probe;
  SyntaxChecker checker;
  SpeculativeBuilds speculation;
  JobWorkers workers;
  SpeculationAwareRunner gate;  // the queue's runner: workers, telling `speculation` of local gradings
  JobQueue queue;
  SessionBook book;
  Scoreboard scores;
  RejudgeBook rejudges;
  // Environments as they are on disk, loaded once per regrade call (see
  // regrade_target()); cleared before each.
  std::map<std::string, std::shared_ptr<const config::Environment>> fresh_envs;
  std::vector<ExamListener*> listeners;
  std::set<std::string> starting;  // workspaces whose exam/start is checking the machine
  bool stopping = false;
  uint64_t notes = 0;  // every note passed on (see generation())

  template <class F>
  void notify(F&& f) {
    ++notes;
    for (auto* l : std::vector<ExamListener*>(listeners)) f(*l);
  }
  void on_progress(const ProgressNote& n) override {
    notify([&](ExamListener& l) { l.on_progress(n); });
  }
  void on_finished(const SubmissionRecord& r) override {
    scores.count(r, false);
    const SubmissionRecord shown = as_shown(r);
    notify([&](ExamListener& l) { l.on_finished(shown); });
  }
  void on_timer(const SessionRecord& s, double left, std::optional<int> warning) override {
    notify([&](ExamListener& l) { l.on_timer(s, left, warning); });
  }
  void on_closed(const SessionRecord& s) override {
    checker.end_session(s.id);
    speculation.end_session(s.id);
    notify([&](ExamListener& l) { l.on_closed(s); });
  }
  void on_rejudge(const RejudgeProgress& p) override {
    notify([&](ExamListener& l) { l.on_rejudge(p); });
  }
  void on_diagnostics(const std::string& session, const std::string& task, const fs::path& file,
                      const std::vector<Diagnostic>& d) override {
    notify([&](ExamListener& l) { l.on_diagnostics(session, task, file, d); });
  }

  // Where a regrade of `r` runs: its session, with the environment read
  // from disk again (a changed ladder is what a rescore is for).
  JobTarget regrade_target(const SubmissionRecord& r) {
    const Session* s = book.find(r.session_id);
    if (!s) throw ServiceError(Kind::not_found, "the exam session " + r.session_id + " is gone");
    auto& env = fresh_envs[s->rec.environment_dir];
    if (!env) env = std::make_shared<const config::Environment>(load_exam_environment(s->rec.environment_dir));
    if (!env->find_task(r.task))
      throw ServiceError(Kind::not_found, "submission " + std::to_string(r.id) + "'s task '" + r.task +
                                              "' is no longer in " + s->rec.environment_dir);
    return {s->rec.id, s->rec.workspace, env};
  }

  // The submissions a selection names (see ExamService::regrade).
  std::vector<SubmissionRecord> selected(const RejudgeSelection& sel) const {
    const int named = (sel.submission != 0) + !sel.session.empty() + !sel.environment.empty();
    if (named != 1)
      throw ServiceError(Kind::invalid_argument,
                         "a regrade selects exactly one of: a submission, a session (with or without a task), or "
                         "an environment (with or without a task)");
    if (sel.submission) {
      auto rec = db.submission(sel.submission);
      if (!rec) throw ServiceError(Kind::not_found, "no submission " + std::to_string(sel.submission));
      if (!sel.task.empty() && rec->task != sel.task)
        throw ServiceError(Kind::invalid_argument, "submission " + std::to_string(sel.submission) + " is of task " +
                                                       rec->task + ", not " + sel.task);
      return {*rec};
    }
    std::vector<const Session*> sessions;
    if (!sel.session.empty()) {
      sessions.push_back(&book.get(sel.session));
    } else {
      const fs::path dir = fs::absolute(sel.environment).lexically_normal();
      for (const auto& rec : book.records())
        if (fs::path(rec.environment_dir) == dir) sessions.push_back(book.find(rec.id));
      if (sessions.empty())
        throw ServiceError(Kind::not_found, "no exam session of the environment " + dir.string() +
                                                " on this daemon (torchexam status lists the sessions)");
    }
    if (!sel.task.empty() &&
        std::none_of(sessions.begin(), sessions.end(), [&](const Session* s) { return s->env->find_task(sel.task); }))
      task_of(*sessions.front(), sel.task);  // throws, naming the tasks there are
    std::vector<SubmissionRecord> out;
    for (const Session* s : sessions)
      for (auto& r : db.submissions(s->rec.id, sel.task)) out.push_back(std::move(r));
    return out;
  }

  fs::path cache_dir() const { return opts.cache_dir.empty() ? paths::cache_dir() : opts.cache_dir; }

  // A submission as it may leave the core: without its task diagnostics
  // while its session hides them (report_visibility.hpp), or when its
  // session is not one this service holds.
  bool diagnostics_shown(const std::string& session) const {
    const Session* s = book.find(session);
    return s && diagnostics_visible(*s->env, s->rec);
  }

  SubmissionRecord as_shown(SubmissionRecord r) const {
    if (diagnostics_shown(r.session_id)) return r;
    return without_task_diagnostics(std::move(r));
  }

  // A save in a task folder: a syntax check of that task's solution and,
  // when it is clean and the session grades locally, a speculative build.
  std::shared_ptr<void> watch(const Session& s) {
    if (!opts.watch) return nullptr;
    return opts.watch(s.rec.workspace, [this, id = s.rec.id](const std::vector<fs::path>& changed) {
      const Session* session = book.find(id);
      if (!session) return;
      const fs::path root = session->rec.workspace;
      const bool local = session->env->grading.backend == config::Grading::Backend::local;
      for (const auto& task : SyntaxChecker::tasks_touched(root, *session->env, changed)) {
        const fs::path file = root / task / "solution.cpp";
        const CompilerOptions options = compiler_options(*session->env, cache_dir());
        if (!local || speculation.mode() == SpeculationMode::off) {
          checker.check(id, task, file, options);
          continue;
        }
        const uint64_t save = speculation.saved(id, task, file, options);
        checker.check(id, task, file, options, [this, id, task, save](const std::vector<Diagnostic>& d) {
          speculation.checked(id, task, save, d);
        });
      }
    });
  }

  ExamSummary summary(const Session& s) const {
    const std::string id = s.rec.id;
    return summarize(
        s, scores, [&](const std::string& task) -> const std::vector<Diagnostic>& { return checker.diagnostics(id, task); },
        queue.items(id), clock.now_ms());
  }

  PendingStart prepare_start(const StartOptions& o) const {
    if (o.mode != "practice" && o.mode != "exam")
      throw ServiceError(Kind::invalid_argument, "mode must be 'practice' or 'exam', not '" + o.mode + "'");
    if (o.environment.empty() || o.workspace.empty())
      throw ServiceError(Kind::invalid_argument, "both the environment folder and the workspace must be given");
    PendingStart p;
    p.options = o;
    p.env_dir = fs::absolute(o.environment).lexically_normal();
    p.workspace = fs::absolute(o.workspace).lexically_normal();
    p.env = std::make_shared<const config::Environment>(load_exam_environment(p.env_dir));
    book.check_workspace_free(p.workspace);
    p.duration_s = p.env->duration_s;
    if (o.duration_s) {
      if (o.mode == "exam")
        throw ServiceError(Kind::invalid_argument, "an exam-mode session runs for the environment's duration");
      constexpr double kMaxDuration = 7 * 24 * 3600.0;
      if (!(*o.duration_s > 0 && *o.duration_s <= kMaxDuration))
        throw ServiceError(Kind::invalid_argument, "duration must be between 1 second and 7 days");
      p.duration_s = *o.duration_s;
    }
    return p;
  }

  ExamSummary finish_start(PendingStart p, std::vector<doctor::CheckResult> problems) {
    if (p.options.mode == "exam") EnvironmentProbe::require_passed(problems, p.env_dir);
    book.check_workspace_free(p.workspace);
    try {
      provision_workspace(*p.env, p.workspace, p.options.overwrite,
                          Compiler(compiler_options(*p.env, cache_dir())).compile_flags(),
                          utc_stamp(clock.now_ms()));
    } catch (const ProvisionError& e) {
      throw ServiceError(Kind::conflict, e.what());
    }
    const Session& s = book.open({p.env_dir, p.workspace, p.options.mode, p.duration_s, std::move(p.env)});
    ExamSummary out = summary(s);
    out.checks = std::move(problems);
    return out;
  }
};

ExamService::ExamService(boost::asio::io_context& io, const Clock& clock, store::Store& store, ServiceOptions options,
                         GradeFn grade_fn) {
  if (options.jobs_dir.empty()) throw std::invalid_argument("ServiceOptions::jobs_dir is required");
  impl_ = std::make_unique<Impl>(io, clock, store, std::move(options), std::move(grade_fn));
}

ExamService::~ExamService() { shutdown(); }

void ExamService::add_listener(ExamListener* l) { impl_->listeners.push_back(l); }

void ExamService::remove_listener(ExamListener* l) {
  auto& v = impl_->listeners;
  v.erase(std::remove(v.begin(), v.end(), l), v.end());
}

void ExamService::recover() {
  auto& I = *impl_;
  I.book.recover(load_exam_environment);
  for (const auto& session : I.book.records())
    for (const auto& sub : I.db.submissions(session.id)) I.scores.count(sub, true);
  I.queue.recover([&](const SubmissionRecord& rec) -> std::optional<JobTarget> {
    const Session* s = I.book.find(rec.session_id);
    if (!s || !s->env->find_task(rec.task)) return std::nullopt;
    return target_of(*s);
  });
  I.fresh_envs.clear();
  I.rejudges.recover();
  tick();
}

ExamSummary ExamService::start(const StartOptions& o) {
  PendingStart p = impl_->prepare_start(o);
  auto problems = impl_->probe.problems(*p.env);
  return impl_->finish_start(std::move(p), std::move(problems));
}

void ExamService::start_async(const StartOptions& o, Done<ExamSummary> done) {
  auto& I = *impl_;
  auto p = std::make_shared<PendingStart>(I.prepare_start(o));
  if (!I.starting.insert(p->workspace.string()).second)
    throw ServiceError(Kind::conflict, "an exam session is being started in " + p->workspace.string() +
                                           " already; wait for it (torchexam status)");
  I.probe.problems_async(p->env, [&I, p, done = std::move(done)](std::exception_ptr failed,
                                                                 std::vector<doctor::CheckResult> problems) {
    I.starting.erase(p->workspace.string());
    if (failed) return done(failed, {});
    try {
      ExamSummary s = I.finish_start(std::move(*p), std::move(problems));
      done(nullptr, std::move(s));
    } catch (...) {
      done(std::current_exception(), {});
    }
  });
}

VerifyReport ExamService::verify(const fs::path& environment) const { return impl_->probe.verify(environment); }

void ExamService::verify_async(const fs::path& environment, Done<VerifyReport> done) {
  impl_->probe.verify_async(environment, std::move(done));
}

std::string ExamService::resolve(const std::string& session, const fs::path& workspace) const {
  return impl_->book.resolve(session, workspace);
}

ExamSummary ExamService::status(const std::string& session) const {
  return impl_->summary(impl_->book.get(resolve(session)));
}

uint64_t ExamService::generation() const {
  const auto& I = *impl_;
  return I.book.generation() + I.queue.generation() + I.scores.generation() + I.checker.generation() + I.notes;
}

ExamService::ClockFields ExamService::clock_fields(const std::string& session) const {
  const auto& rec = impl_->book.get(resolve(session)).rec;
  const int64_t now = impl_->clock.now_ms();
  return {remaining_seconds(rec, now), deadline_ms(rec, now)};
}

std::vector<SessionRecord> ExamService::sessions() const { return impl_->book.records(); }

ExamSummary ExamService::stop(const std::string& session) { return impl_->summary(impl_->book.stop(resolve(session))); }

ExamSummary ExamService::pause(const std::string& session) {
  return impl_->summary(impl_->book.pause(resolve(session)));
}

ExamSummary ExamService::resume(const std::string& session) {
  return impl_->summary(impl_->book.resume(resolve(session)));
}

ExamSummary ExamService::extend(const std::string& session, double seconds) {
  return impl_->summary(impl_->book.extend(resolve(session), static_cast<int64_t>(seconds * 1000)));
}

int64_t ExamService::submit(const std::string& session, const std::string& task, const std::string& file) {
  auto& I = *impl_;
  const Session& s = I.book.accepting(resolve(session));
  task_of(s, task);
  if (file.empty() || file.find('/') != std::string::npos || file == "." || file == "..")
    throw ServiceError(Kind::invalid_argument, "file must be a file name in the task folder, e.g. solution.cpp");
  const fs::path path = fs::path(s.rec.workspace) / task / file;
  std::string bytes;
  try {
    bytes = read_file(path);
  } catch (const std::exception&) {
    throw ServiceError(Kind::not_found, "cannot read " + path.string());
  }
  SubmissionRecord rec;
  rec.session_id = s.rec.id;
  rec.task = task;
  rec.source_hash = I.db.put_artifact(bytes);
  rec.source_name = file;
  rec.submitted_at_ms = I.clock.now_ms();
  set_state(rec, SubmissionState::queued);
  I.scores.count(rec, true);  // before the queue's notes, so that listeners see it counted
  return I.queue.add(std::move(rec), target_of(s)).id;
}

std::vector<SubmissionRecord> ExamService::history(const std::string& session, const std::string& task) const {
  const std::string sid = resolve(session);
  if (!task.empty()) task_of(impl_->book.get(sid), task);
  std::vector<SubmissionRecord> out = impl_->db.submissions(sid, task);
  for (auto& r : out) r = impl_->as_shown(std::move(r));
  return out;
}

SubmissionRecord ExamService::submission(int64_t id) const {
  auto rec = impl_->db.submission(id);
  if (!rec) throw ServiceError(Kind::not_found, "no submission " + std::to_string(id));
  return impl_->as_shown(std::move(*rec));
}

std::vector<store::JudgingRecord> ExamService::judgings(const SubmissionRecord& r) const {
  std::vector<store::JudgingRecord> out = impl_->db.judgings(r.id);
  if (!impl_->diagnostics_shown(r.session_id))
    for (auto& j : out) j = without_task_diagnostics(std::move(j));
  return out;
}

bool ExamService::diagnostics_shown(const std::string& session) const { return impl_->diagnostics_shown(session); }

std::vector<std::string> ExamService::submission_events(int64_t id) const {
  submission(id);
  impl_->event_log.flush();
  return impl_->db.events(id);
}

std::string ExamService::source_of(int64_t id) const {
  auto rec = submission(id);
  auto bytes = impl_->db.get_artifact(rec.source_hash);
  if (!bytes) throw ServiceError(Kind::not_found, "the source of submission " + std::to_string(id) + " is missing");
  return *bytes;
}

int ExamService::queue_position(int64_t id) const { return impl_->queue.position(id); }

bool ExamService::cancel(int64_t id) {
  submission(id);
  return impl_->queue.cancel(id);
}

RestoreResult ExamService::restore(int64_t id) {
  auto& I = *impl_;
  const SubmissionRecord rec = submission(id);
  const Session& s = I.book.get(rec.session_id);
  return restore_source(I.db, fs::path(s.rec.workspace) / rec.task / rec.source_name, source_of(id),
                        utc_stamp(I.clock.now_ms()));
}

RejudgeSet ExamService::regrade(RejudgeKind kind, const RejudgeSelection& selection, const std::string& reason) {
  auto& I = *impl_;
  I.fresh_envs.clear();
  return I.rejudges.create(kind, selection, reason, I.selected(selection));
}

RejudgeSet ExamService::rejudge(int64_t id) const { return impl_->rejudges.get(id); }

RejudgeSet ExamService::apply_rejudge(int64_t id) {
  impl_->fresh_envs.clear();
  return impl_->rejudges.apply(id);
}

RejudgeSet ExamService::cancel_rejudge(int64_t id) { return impl_->rejudges.cancel(id); }

void ExamService::tick() { impl_->book.tick(); }

const SpeculationCounts& ExamService::speculation_counts() const { return impl_->speculation.counts(); }

bool ExamService::idle() const {
  return impl_->queue.idle() && !impl_->checker.busy() && !impl_->probe.busy();
}

void ExamService::shutdown() {
  auto& I = *impl_;
  if (I.stopping) return;
  I.stopping = true;
  if (I.opts.backends) I.opts.backends->detach_remote_jobs();  // cluster jobs run on; the next daemon picks them up
  I.queue.stop();
  I.book.stop_watching();
  I.speculation.shutdown();
  I.workers.join();
  I.checker.join();
  I.housekeeping.join();
  I.handoff.close();  // what the threads posted is now dropped unrun
}

}  // namespace torchexam
