// ExamService: in-memory session state over the durable store, a job queue
// feeding a worker pool, and timers driven by tick().
//
// Organisation: Impl holds sessions (never erased while the service lives, so
// jobs may point at their environment), the pending and running jobs, and the
// listeners. Worker threads only run grade_fn and post results back with
// asio::post; every store access and listener call happens on the io thread.
#include "exam/exam_service.hpp"

#include "base/hash.hpp"
#include "base/paths.hpp"
#include "exam/provision.hpp"
#include "grading/backend/backend.hpp"
#include "grading/grade_json.hpp"
#include "grading/job_dirs.hpp"
#include "store/event_log.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cmath>
#include <deque>
#include <fstream>
#include <mutex>
#include <random>
#include <set>

namespace torchexam {
namespace fs = std::filesystem;
namespace asio = boost::asio;
using store::SessionRecord;
using store::SubmissionRecord;
using Kind = ServiceError::Kind;

int64_t deadline_ms(const SessionRecord& s, int64_t now_ms) {
  int64_t paused = s.paused_total_ms;
  if (s.paused_since_ms) paused += std::max<int64_t>(0, now_ms - *s.paused_since_ms);
  return s.started_at_ms + s.duration_ms + paused;
}

double remaining_seconds(const SessionRecord& s, int64_t now_ms) {
  if (s.state == "closed" || s.state == "stopped") return 0;
  return std::max<double>(0, static_cast<double>(deadline_ms(s, now_ms) - now_ms) / 1000.0);
}

namespace {

bool open_state(const std::string& state) { return state == "running" || state == "paused"; }

std::string random_id() {
  std::random_device rd;
  return fmt::format("{:08x}{:04x}", rd(), rd() & 0xffff);
}

std::string stamp(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

void write_atomically(const fs::path& path, std::string_view bytes) {
  try {
    write_file_atomically(path, bytes);
  } catch (const std::exception& e) {
    throw ServiceError(Kind::conflict, e.what());
  }
}

constexpr int kWarnings[] = {1, 10, 30};  // minutes, ascending

}  // namespace

struct ExamService::Impl {
  struct Session {
    SessionRecord rec;
    config::Environment env;
    std::shared_ptr<void> watch;
    int warned = INT_MAX;  // smallest warning (minutes) already sent
    int64_t last_timer_ms = 0;
    std::map<std::string, std::vector<Diagnostic>> diagnostics;
    // Per task, what status needs of the history, kept up to date by
    // submit() and finish() so a status request reads no rows.
    struct Tally {
      int submissions = 0;
      int best_score = 0;
      std::optional<int64_t> best_submission;
      std::string last_verdict;
    };
    std::map<std::string, Tally> tally;

    void count(const SubmissionRecord& r, bool is_new) {
      Tally& t = tally[r.task];
      if (is_new) ++t.submissions;
      if (r.state != "finished") return;
      if (!t.best_submission || r.score > t.best_score) {
        t.best_score = r.score;
        t.best_submission = r.id;
      }
      t.last_verdict = r.verdict.value_or("");
    }
  };
  struct Job {
    int64_t id = 0;
    std::shared_ptr<Session> session;
    std::string task;
    std::shared_ptr<std::atomic<bool>> cancel = std::make_shared<std::atomic<bool>>(false);
    bool resume = false;  // re-run after a restart: a cluster job it left may still run
    // Graded by a cluster scheduler (the environment's grading backend): it
    // waits in the scheduler's queue, not in ours, and holds no local slot.
    bool remote() const { return session->env.grading.backend != config::Grading::Backend::local; }
  };

  Impl(asio::io_context& io_, const Clock& clock_, store::Store& store_, ServiceOptions o, GradeFn g)
      : io(io_), clock(clock_), db(store_), opts(std::move(o)), grade_fn(std::move(g)), event_log(store_),
        artifact_db(store_.reopen()), workers(static_cast<size_t>(std::max(1, opts.concurrency))), checks(1), probes(1) {}

  asio::io_context& io;
  const Clock& clock;
  store::Store& db;
  ServiceOptions opts;
  GradeFn grade_fn;
  // Progress events go to the store from the log's thread (the io thread
  // never waits for a commit); declared before the pools so that it
  // outlives the workers that append to it.
  EventLog event_log;
  // A finished job's checkpoint and logs are hashed and written (with
  // fsync: 3-25 ms for the fashion_mnist checkpoint) by the thread that
  // graded it, through a connection of its own (one Store per thread),
  // shared by the workers under the mutex; the io thread only records the
  // hashes.
  std::mutex artifact_mu;
  std::unique_ptr<store::Store> artifact_db;
  asio::thread_pool workers;
  asio::thread_pool checks;
  // exam/start's and env/verify's environment checks (dpkg-query, the torch
  // probe: about a second), kept off the io thread and out of the way of
  // the syntax checks.
  asio::thread_pool probes;
  // Threads that wait on cluster jobs, made with the first one: one per job
  // in the scheduler (grading.slurm.max_jobs), each asleep in a poll.
  std::unique_ptr<asio::thread_pool> remote_workers;
  int remote_slots = 0;
  std::map<std::string, std::shared_ptr<Session>> sessions;
  std::deque<Job> pending;
  std::map<int64_t, Job> running;
  int checks_running = 0;
  int probes_running = 0;
  std::set<std::string> starting;  // workspaces whose exam/start is checking the machine
  bool stopping = false;
  // Handlers posted from worker threads may outlive the service (the
  // io_context keeps them): they run only while this is alive.
  std::shared_ptr<int> alive = std::make_shared<int>(0);

  template <class F>
  void post_io(F&& f) {
    asio::post(io, [weak = std::weak_ptr<int>(alive), f = std::forward<F>(f)]() mutable {
      if (!weak.expired()) f();
    });
  }
  // Runs work() on the probes thread, then then(error, result) on the io
  // thread: the exception work() threw, or null and what it returned.
  template <class R, class Work, class Then>
  void probe(Work work, Then then) {
    ++probes_running;
    asio::post(probes, [this, work = std::move(work), then = std::move(then)]() mutable {
      std::exception_ptr failed;
      R result{};
      try {
        result = work();
      } catch (...) {
        failed = std::current_exception();
      }
      post_io([this, then = std::move(then), failed, result = std::move(result)]() mutable {
        --probes_running;
        then(failed, std::move(result));
      });
    });
  }
  std::vector<ExamListener*> listeners;
  // See ExamService::generation(): bumped by every change a summary shows.
  uint64_t generation = 0;
  void touch() { ++generation; }

  template <class F>
  void notify(F&& f) {
    touch();
    for (auto* l : std::vector<ExamListener*>(listeners)) f(*l);
  }

  Session& get(const std::string& id) {
    auto it = sessions.find(id);
    if (it == sessions.end()) throw ServiceError(Kind::not_found, "no exam session '" + id + "'");
    return *it->second;
  }

  void check_workspace_free(const fs::path& workspace) const {
    for (const auto& [id, s] : sessions)
      if (open_state(s->rec.state) && fs::path(s->rec.workspace) == workspace)
        throw ServiceError(Kind::conflict, "an exam session (" + id + ") is already open in " + workspace.string() +
                                               "; stop it first (torchexam stop)");
  }

  static config::Environment load_env(const fs::path& dir) {
    try {
      return config::load_environment(dir);
    } catch (const config::ConfigError& e) {
      throw ServiceError(Kind::environment_error, std::string("the exam environment has errors:\n") + e.what());
    }
  }

  const config::TaskConfig& task_of(const Session& s, const std::string& task) const {
    if (const auto* t = s.env.find_task(task)) return *t;
    throw ServiceError(Kind::not_found, s.env.unknown_task(task, "this exam"));
  }

  void save(Session& s) {
    touch();
    db.put_session(s.rec);
  }

  void start_watch(const std::shared_ptr<Session>& s) {
    if (!opts.watch || !open_state(s->rec.state)) return;
    std::weak_ptr<Session> weak = s;
    s->watch = opts.watch(s->rec.workspace, [this, weak](const std::vector<fs::path>& changed) {
      if (auto locked = weak.lock()) files_changed(locked, changed);
    });
  }

  // A save in a task folder: a syntax check of that task's solution.
  void files_changed(const std::shared_ptr<Session>& s, const std::vector<fs::path>& changed) {
    std::set<std::string> tasks;
    const fs::path root = s->rec.workspace;
    for (const auto& p : changed) {
      const fs::path rel = p.lexically_relative(root);
      auto it = rel.begin();
      if (rel.empty() || it == rel.end() || *it == "..") continue;
      const std::string task = it->string();
      if (p.filename() == "solution.cpp" && s->env.find_task(task)) tasks.insert(task);
    }
    for (const auto& task : tasks) check_syntax(s, task);
  }

  void check_syntax(const std::shared_ptr<Session>& s, const std::string& task) {
    const fs::path file = fs::path(s->rec.workspace) / task / "solution.cpp";
    CompilerOptions co = compiler_options(s->env, cache_dir());
    co.timeout_s = opts.syntax_timeout_s;
    const double timeout = opts.syntax_timeout_s;
    const std::string sid = s->rec.id;
    ++checks_running;
    asio::post(checks, [this, co, file, timeout, sid, task] {
      std::vector<Diagnostic> diags;
      try {
        diags = Compiler(co).check_syntax(file, timeout);
      } catch (const std::exception& e) {
        diags.push_back({"warning", file.string(), 0, 0, std::string("syntax check failed: ") + e.what()});
      }
      post_io([this, sid, task, file, diags] {
        --checks_running;
        auto it = sessions.find(sid);
        if (it == sessions.end()) return;
        touch();
        it->second->diagnostics[task] = diags;
        notify([&](ExamListener& l) { l.on_diagnostics(sid, task, file, diags); });
      });
    });
  }

  fs::path cache_dir() const { return opts.cache_dir.empty() ? paths::cache_dir() : opts.cache_dir; }

  int position(int64_t id) const {
    if (running.count(id)) return 0;
    int pos = 1;
    for (const auto& j : pending) {
      if (j.id == id) return pos;
      ++pos;
    }
    return -1;
  }

  void enqueue(Job job) {
    touch();
    pending.push_back(std::move(job));
    const auto& j = pending.back();
    notify([&](ExamListener& l) {
      l.on_progress({j.session->rec.id, j.id, j.task, "queued", position(j.id), std::nullopt});
    });
    pump();
  }

  // Starts waiting jobs, in order, while their pool has a free slot: local
  // jobs on the `concurrency` workers, cluster jobs straight to the scheduler.
  void pump() {
    if (stopping) return;
    int local = 0, remote = 0;
    for (const auto& [id, j] : running) ++(j.remote() ? remote : local);
    for (auto it = pending.begin(); it != pending.end();) {
      const bool is_remote = it->remote();
      if (is_remote && !remote_workers) {
        remote_slots = std::max(1, it->session->env.grading.slurm.max_jobs);
        remote_workers = std::make_unique<asio::thread_pool>(static_cast<size_t>(remote_slots));
      }
      int& used = is_remote ? remote : local;
      if (used >= (is_remote ? remote_slots : std::max(1, opts.concurrency))) {
        ++it;
        continue;
      }
      ++used;
      Job job = std::move(*it);
      it = pending.erase(it);
      touch();
      run(job);
    }
  }

  class Observer final : public GradeObserver {
   public:
    Observer(Impl& impl, Job job) : impl_(impl), job_(std::move(job)) {}
    void phase(std::string_view name) override { post(std::string(name), std::nullopt); }
    void queued(std::string_view phase, int position) override {
      impl_.post_io([&impl = impl_, job = job_, stage = std::string(position > 0 ? "queued" : phase), position] {
        impl.notify([&](ExamListener& l) { l.on_progress({job.session->rec.id, job.id, job.task, stage, position, {}}); });
      });
    }
    void event(const events::Event& e) override {
      const auto* p = std::get_if<events::Progress>(&e);
      if (!p) return;
      if (p->kind == events::Progress::Kind::epoch) curve.push_back(curve_point(*p));
      post("train", *p);
    }
    std::vector<CurvePoint> curve;

   private:
    void post(std::string stage, std::optional<events::Progress> p) {
      if (p) impl_.event_log.append(job_.id, events::to_json_line(*p));
      impl_.post_io([&impl = impl_, job = job_, stage = std::move(stage), p = std::move(p)] {
        impl.notify([&](ExamListener& l) {
          l.on_progress({job.session->rec.id, job.id, job.task, stage, 0, p});
        });
      });
    }
    Impl& impl_;
    Job job_;
  };

  // Starts a job; a failure to prepare it (disk full, permissions) ends it
  // with internal_error instead of holding a worker slot or the io thread.
  void run(const Job& job) {
    try {
      start_job(job);
    } catch (const std::exception& e) {
      GradeResult r;
      r.verdict = Verdict::internal_error;
      r.message = std::string("could not start grading: ") + e.what();
      running[job.id] = job;
      finish(job, r, {});
    }
  }

  void start_job(const Job& job) {
    SubmissionRecord rec = *db.submission(job.id);
    rec.state = "running";
    rec.attempts += 1;
    db.update_submission(rec);
    running[job.id] = job;

    const auto& task = task_of(*job.session, job.task);
    // A resumed cluster grading picks up the folder its jobs left behind:
    // they may still be writing there.
    const fs::path before = opts.jobs_dir / fmt::format("{}-{}", job.id, rec.attempts - 1);
    const bool resumed = job.resume && job.remote() && fs::is_directory(before);
    const fs::path dir = resumed ? before : opts.jobs_dir / fmt::format("{}-{}", job.id, rec.attempts);
    fs::create_directories(dir / "src");
    const fs::path source = dir / "src" / rec.source_name;
    auto bytes = db.get_artifact(rec.source_hash);
    if (!bytes) {
      GradeResult r;
      r.verdict = Verdict::internal_error;
      r.message = "the submitted source is missing from the store (" + rec.source_hash + ")";
      finish(job, r, {});
      return;
    }
    write_atomically(source, *bytes);

    GradeRequest req;
    req.environment = &job.session->env;
    req.task = &task;
    req.source = source;
    req.job_dir = dir;
    req.display_name = (fs::path(job.session->rec.workspace) / job.task / rec.source_name).string();
    req.cache_dir = opts.cache_dir;
    req.backends = opts.backends;
    req.cancel = job.cancel.get();
    req.resume = resumed;
    // Held until the artifacts are stored: pruning leaves the folder alone.
    auto in_use = std::make_shared<JobDirInUse>(dir);
    asio::post(job.remote() ? *remote_workers : workers, [this, job, req, in_use]() mutable {
      // Linux keeps the nice value per thread and a child inherits its
      // creator's: set once per worker thread, it applies to every job.
      thread_local bool scheduled = false;
      if (!scheduled)
        scheduled =
            opts.job_nice <= 0 || ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), opts.job_nice) == 0;
      Observer obs(*this, job);
      GradeResult r;
      try {
        r = grade_fn(req, obs);
      } catch (const std::exception& e) {
        r.verdict = Verdict::internal_error;
        r.message = e.what();
      }
      std::map<std::string, std::string> artifacts;
      if (!r.cancelled) artifacts = store_artifacts(r.job_dir);
      in_use.reset();
      post_io([this, job, r, curve = obs.curve, artifacts = std::move(artifacts)] {
        finish(job, r, curve, artifacts);
      });
    });
  }

  void finish(const Job& job, const GradeResult& r, const std::vector<CurvePoint>& curve,
              const std::map<std::string, std::string>& artifacts = {}) {
    touch();
    running.erase(job.id);
    SubmissionRecord rec = *db.submission(job.id);
    if (r.cancelled && stopping) {
      rec.state = "queued";  // the daemon is stopping: grade it again after the restart
    } else if (r.cancelled) {
      rec.state = "cancelled";
      rec.message = "cancelled";
      rec.finished_at_ms = clock.now_ms();
    } else {
      rec.state = "finished";
      rec.verdict = std::string(to_string(r.verdict));
      rec.metric = r.metric;
      rec.score = r.score;
      rec.message = r.message;
      rec.detail = r.detail;
      rec.result_json = boost::json::serialize(boost::json::value_from(GradeRecord{r, artifacts}));
      rec.curve_json = boost::json::serialize(boost::json::value_from(curve));
      rec.finished_at_ms = clock.now_ms();
    }
    db.update_submission(rec);
    job.session->count(rec, false);
    if (rec.state != "queued") notify([&](ExamListener& l) { l.on_finished(rec); });
    prune();
    pump();
  }

  // The store keeps what history needs; older job folders go (job_dirs.hpp),
  // but never one of a submission still queued or running (a resumed cluster
  // grading reuses its folder). The names are taken here, on the io thread;
  // the removal runs on the probes thread, one pruning at a time.
  void prune() {
    std::set<std::string> busy;
    for (const auto& j : pending) busy.insert(std::to_string(j.id));
    for (const auto& [id, j] : running) busy.insert(std::to_string(id));
    asio::post(probes, [dir = opts.jobs_dir, busy = std::move(busy)] {
      prune_job_dirs(dir, kKeepJobDirs, [&](const std::string& name) {
        const size_t dash = name.find('-');  // <submission>-<attempt>
        return dash != std::string::npos && name.find_first_not_of("0123456789-") == std::string::npos &&
               busy.count(name.substr(0, dash)) == 0;
      });
    });
  }

  // The job's checkpoint and logs, kept by content hash in the store; called
  // on a worker thread.
  std::map<std::string, std::string> store_artifacts(const fs::path& job_dir) {
    std::map<std::string, std::string> out;
    const std::lock_guard lock(artifact_mu);
    const std::pair<const char*, const char*> files[] = {{"checkpoint", "train/checkpoint.pt"},
                                                         {"train_log", "train/output.log"},
                                                         {"evaluate_log", "evaluate/output.log"}};
    for (const auto& [name, rel] : files) {
      std::error_code ec;
      // symlink_status: a link the job left in place of its output is not followed.
      if (job_dir.empty() || !fs::is_regular_file(fs::symlink_status(job_dir / rel, ec))) continue;
      try {
        out[name] = artifact_db->put_artifact(read_file(job_dir / rel));
      } catch (const std::exception&) {
        // A missing or unreadable file is no reason to lose the verdict.
      }
    }
    return out;
  }

  ExamSummary summary(const Session& s) const {
    ExamSummary out;
    const int64_t now = clock.now_ms();
    out.session = s.rec;
    out.remaining_s = remaining_seconds(s.rec, now);
    out.deadline_ms = deadline_ms(s.rec, now);
    out.pass_mark = s.env.pass_mark;
    for (const auto& t : s.env.tasks) {
      TaskSummary ts;
      ts.id = t.id;
      ts.title = t.title;
      ts.metric = t.metric;
      ts.ladder = t.ladder.thresholds;
      ts.time_budget_s = t.time_budget_s;
      ts.folder = fs::path(s.rec.workspace) / t.id;
      if (auto it = s.tally.find(t.id); it != s.tally.end()) {
        ts.submissions = it->second.submissions;
        ts.best_score = it->second.best_score;
        ts.best_submission = it->second.best_submission;
        ts.last_verdict = it->second.last_verdict;
      }
      if (auto d = s.diagnostics.find(t.id); d != s.diagnostics.end()) ts.diagnostics = d->second;
      out.total_score += ts.best_score;
      out.tasks.push_back(std::move(ts));
    }
    out.passed = out.total_score >= out.pass_mark;
    for (const auto& [id, job] : running)
      if (job.session->rec.id == s.rec.id) out.queue.push_back({id, job.task, "running", 0});
    int pos = 1;
    for (const auto& job : pending) {
      if (job.session->rec.id == s.rec.id) out.queue.push_back({job.id, job.task, "queued", pos});
      ++pos;
    }
    return out;
  }

  void close(Session& s) {
    s.rec.state = "closed";
    s.rec.closed_at_ms = deadline_ms(s.rec, clock.now_ms());
    save(s);
    s.watch.reset();
    notify([&](ExamListener& l) { l.on_closed(s.rec); });
  }
};

ExamService::ExamService(asio::io_context& io, const Clock& clock, store::Store& store, ServiceOptions options,
                         GradeFn grade_fn)
    : impl_(std::make_unique<Impl>(io, clock, store, std::move(options), std::move(grade_fn))) {
  if (impl_->opts.jobs_dir.empty()) throw std::invalid_argument("ServiceOptions::jobs_dir is required");
}

ExamService::~ExamService() { shutdown(); }

void ExamService::add_listener(ExamListener* l) { impl_->listeners.push_back(l); }

void ExamService::remove_listener(ExamListener* l) {
  auto& v = impl_->listeners;
  v.erase(std::remove(v.begin(), v.end(), l), v.end());
}

void ExamService::recover() {
  auto& I = *impl_;
  const int64_t now = I.clock.now_ms();
  for (const auto& rec : I.db.sessions()) {
    auto s = std::make_shared<Impl::Session>();
    s->rec = rec;
    try {
      s->env = Impl::load_env(rec.environment_dir);
    } catch (const ServiceError&) {
      // The environment changed or vanished: keep the session's history
      // readable, but it can take no new submissions.
      if (open_state(rec.state)) {
        s->rec.state = "stopped";
        s->rec.closed_at_ms = now;
        I.save(*s);
      }
    }
    const double left = remaining_seconds(s->rec, now);
    for (int w : kWarnings)
      if (left <= w * 60.0 && w < s->warned) s->warned = w;
    s->last_timer_ms = now;
    for (const auto& sub : I.db.submissions(rec.id)) s->count(sub, true);
    I.sessions[rec.id] = s;
    I.touch();
    I.start_watch(s);
  }
  for (auto rec : I.db.unfinished_submissions()) {
    auto it = I.sessions.find(rec.session_id);
    if (it == I.sessions.end() || !it->second->env.find_task(rec.task)) {
      rec.state = "interrupted";
      rec.message = "interrupted: its exam session or task no longer exists";
      rec.finished_at_ms = now;
      I.db.update_submission(rec);
      continue;
    }
    if (rec.state == "running") {
      rec.state = "queued";  // it was grading when the daemon stopped: grade it again
      I.db.update_submission(rec);
    }
    Impl::Job job{rec.id, it->second, rec.task};
    job.resume = rec.attempts > 0;
    I.pending.push_back(std::move(job));
  }
  I.touch();
  I.pump();
  tick();
}

// exam/start in three steps, so that the checks (which start processes and
// take about a second) can run off the io thread: validate on the io
// thread, check anywhere, then lay out and open the session on the io
// thread, where the conflict test is made again (another start may have
// opened the workspace in between).
struct ExamService::PendingStart {
  StartOptions options;
  fs::path env_dir;
  fs::path workspace;
  config::Environment env;
  double duration_s = 0;
};

ExamService::PendingStart ExamService::prepare_start(const StartOptions& o) const {
  const auto& I = *impl_;
  if (o.mode != "practice" && o.mode != "exam")
    throw ServiceError(Kind::invalid_argument, "mode must be 'practice' or 'exam', not '" + o.mode + "'");
  if (o.environment.empty() || o.workspace.empty())
    throw ServiceError(Kind::invalid_argument, "both the environment folder and the workspace must be given");
  PendingStart p;
  p.options = o;
  p.env_dir = fs::absolute(o.environment).lexically_normal();
  p.workspace = fs::absolute(o.workspace).lexically_normal();
  p.env = Impl::load_env(p.env_dir);
  I.check_workspace_free(p.workspace);
  p.duration_s = p.env.duration_s;
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

std::vector<doctor::CheckResult> ExamService::start_checks(const PendingStart& p) const {
  std::vector<doctor::CheckResult> problems;
  if (!impl_->opts.verify) return problems;
  for (auto& c : impl_->opts.verify(p.env))
    if (c.status != doctor::Status::ok) problems.push_back(std::move(c));
  return problems;
}

ExamSummary ExamService::finish_start(PendingStart p, std::vector<doctor::CheckResult> problems) {
  auto& I = *impl_;
  if (p.options.mode == "exam" && !doctor::passed(problems)) {
    std::string lines;
    for (const auto& c : problems)
      if (c.status == doctor::Status::fail) lines += "\n" + doctor::to_line(c);
    throw ServiceError(Kind::environment_error,
                       "this machine does not meet the exam environment's requirements (torchexam doctor " +
                           p.env_dir.string() + " shows every check):" + lines);
  }
  I.check_workspace_free(p.workspace);
  const int64_t now = I.clock.now_ms();
  try {
    provision_workspace(p.env, p.workspace, p.options.overwrite,
                        Compiler(compiler_options(p.env, I.cache_dir())).compile_flags(), stamp(now));
  } catch (const ProvisionError& e) {
    throw ServiceError(Kind::conflict, e.what());
  }
  auto s = std::make_shared<Impl::Session>();
  s->rec.id = random_id();
  s->rec.environment_dir = p.env_dir.string();
  s->rec.workspace = p.workspace.string();
  s->rec.mode = p.options.mode;
  s->rec.started_at_ms = now;
  s->rec.duration_ms = static_cast<int64_t>(p.duration_s * 1000);
  s->rec.state = "running";
  s->env = std::move(p.env);
  s->last_timer_ms = now;
  for (int w : kWarnings)  // a short session starts past some warnings: they are not news
    if (p.duration_s <= w * 60.0 && w < s->warned) s->warned = w;
  I.save(*s);
  I.sessions[s->rec.id] = s;
  I.start_watch(s);
  ExamSummary summary = I.summary(*s);
  summary.checks = std::move(problems);
  return summary;
}

ExamSummary ExamService::start(const StartOptions& o) {
  PendingStart p = prepare_start(o);
  auto problems = start_checks(p);
  return finish_start(std::move(p), std::move(problems));
}

void ExamService::start_async(const StartOptions& o, Done<ExamSummary> done) {
  auto& I = *impl_;
  auto p = std::make_shared<PendingStart>(prepare_start(o));
  if (!I.starting.insert(p->workspace.string()).second)
    throw ServiceError(Kind::conflict, "an exam session is being started in " + p->workspace.string() +
                                           " already; wait for it (torchexam status)");
  I.probe<std::vector<doctor::CheckResult>>(
      [this, p] { return start_checks(*p); },
      [this, p, done = std::move(done)](std::exception_ptr failed, std::vector<doctor::CheckResult> problems) {
        impl_->starting.erase(p->workspace.string());
        if (failed) return done(failed, {});
        try {
          ExamSummary s = finish_start(std::move(*p), std::move(problems));
          done(nullptr, std::move(s));
        } catch (...) {
          done(std::current_exception(), {});
        }
      });
}

VerifyReport ExamService::verify(const fs::path& environment) const {
  const auto& I = *impl_;
  if (environment.empty()) throw ServiceError(Kind::invalid_argument, "the environment folder must be given");
  VerifyReport r;
  r.environment = fs::absolute(environment).lexically_normal();
  const config::Environment env = Impl::load_env(r.environment);
  if (I.opts.verify) r.checks = I.opts.verify(env);
  r.ok = doctor::passed(r.checks);
  const fs::path state = I.opts.state_dir.empty() ? paths::state_dir() : I.opts.state_dir;
  r.forecasts = doctor::load_forecasts(doctor::forecast_file(state, env.name));
  return r;
}

void ExamService::verify_async(const fs::path& environment, Done<VerifyReport> done) {
  // verify() reads only options fixed at construction: safe off the io thread.
  impl_->probe<VerifyReport>([this, environment] { return verify(environment); }, std::move(done));
}

std::string ExamService::resolve(const std::string& session, const fs::path& workspace) const {
  const auto& I = *impl_;
  if (!session.empty()) {
    if (!I.sessions.count(session)) throw ServiceError(Kind::not_found, "no exam session '" + session + "'");
    return session;
  }
  std::vector<std::string> open;
  const fs::path ws = workspace.empty() ? fs::path() : fs::absolute(workspace).lexically_normal();
  for (const auto& [id, s] : I.sessions) {
    if (!ws.empty() && (ws == fs::path(s->rec.workspace) || ws.string().rfind(s->rec.workspace + "/", 0) == 0)) {
      if (open_state(s->rec.state)) return id;
    }
  }
  const SessionRecord* newest = nullptr;
  for (const auto& [id, s] : I.sessions) {
    if (open_state(s->rec.state)) open.push_back(id);
    if (!newest || s->rec.started_at_ms >= newest->started_at_ms) newest = &s->rec;
  }
  if (open.size() == 1) return open.front();
  if (open.size() > 1) {
    std::string list;
    for (const auto& id : open) list += (list.empty() ? "" : ", ") + id + " (" + I.sessions.at(id)->rec.workspace + ")";
    throw ServiceError(Kind::conflict, "several exam sessions are open: " + list + "; name one with --session");
  }
  if (newest) return newest->id;  // none open: the most recent one, to read its results
  throw ServiceError(Kind::not_found, "no exam session; start one with: torchexam start ENV_DIR --workspace DIR");
}

ExamSummary ExamService::status(const std::string& session) const {
  return impl_->summary(*impl_->sessions.at(resolve(session)));
}

uint64_t ExamService::generation() const { return impl_->generation; }

ExamService::ClockFields ExamService::clock_fields(const std::string& session) const {
  const auto& rec = impl_->sessions.at(resolve(session))->rec;
  const int64_t now = impl_->clock.now_ms();
  return {remaining_seconds(rec, now), deadline_ms(rec, now)};
}

std::vector<SessionRecord> ExamService::sessions() const {
  std::vector<SessionRecord> out;
  for (const auto& [id, s] : impl_->sessions) out.push_back(s->rec);
  return out;
}

ExamSummary ExamService::stop(const std::string& session) {
  auto& s = impl_->get(resolve(session));
  if (open_state(s.rec.state)) {
    s.rec.state = "stopped";
    s.rec.closed_at_ms = impl_->clock.now_ms();
    if (s.rec.paused_since_ms) {
      s.rec.paused_total_ms += *s.rec.closed_at_ms - *s.rec.paused_since_ms;
      s.rec.paused_since_ms.reset();
    }
    impl_->save(s);
    s.watch.reset();
    impl_->notify([&](ExamListener& l) { l.on_closed(s.rec); });
  }
  return impl_->summary(s);
}

ExamSummary ExamService::pause(const std::string& session) {
  auto& s = impl_->get(resolve(session));
  if (s.rec.mode == "exam") throw ServiceError(Kind::invalid_state, "an exam-mode session cannot be paused");
  if (s.rec.state != "running") throw ServiceError(Kind::invalid_state, "the session is " + s.rec.state + ", not running");
  s.rec.state = "paused";
  s.rec.paused_since_ms = impl_->clock.now_ms();
  impl_->save(s);
  return impl_->summary(s);
}

ExamSummary ExamService::resume(const std::string& session) {
  auto& s = impl_->get(resolve(session));
  if (s.rec.state != "paused") throw ServiceError(Kind::invalid_state, "the session is " + s.rec.state + ", not paused");
  s.rec.paused_total_ms += impl_->clock.now_ms() - *s.rec.paused_since_ms;
  s.rec.paused_since_ms.reset();
  s.rec.state = "running";
  impl_->save(s);
  return impl_->summary(s);
}

int64_t ExamService::submit(const std::string& session, const std::string& task, const std::string& file) {
  auto& I = *impl_;
  const std::string sid = resolve(session);
  auto sp = I.sessions.at(sid);
  auto& s = *sp;
  const int64_t now = I.clock.now_ms();
  if (s.rec.state == "running" || s.rec.state == "paused") {
    if (remaining_seconds(s.rec, now) <= 0) {
      I.close(s);
    }
  }
  if (s.rec.state == "closed")
    throw ServiceError(Kind::exam_closed, "the exam closed at " + stamp(*s.rec.closed_at_ms) +
                                              " UTC; submissions made before the deadline are still graded");
  if (s.rec.state == "stopped") throw ServiceError(Kind::exam_closed, "this exam session was stopped");
  I.task_of(s, task);
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
  rec.session_id = sid;
  rec.task = task;
  rec.source_hash = I.db.put_artifact(bytes);
  rec.source_name = file;
  rec.submitted_at_ms = now;
  rec.state = "queued";
  rec.id = I.db.add_submission(rec);
  s.count(rec, true);
  I.enqueue({rec.id, sp, task});
  return rec.id;
}

std::vector<SubmissionRecord> ExamService::history(const std::string& session, const std::string& task) const {
  const std::string sid = resolve(session);
  if (!task.empty()) impl_->task_of(*impl_->sessions.at(sid), task);
  return impl_->db.submissions(sid, task);
}

SubmissionRecord ExamService::submission(int64_t id) const {
  auto rec = impl_->db.submission(id);
  if (!rec) throw ServiceError(Kind::not_found, "no submission " + std::to_string(id));
  return *rec;
}

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

int ExamService::queue_position(int64_t id) const { return impl_->position(id); }

bool ExamService::cancel(int64_t id) {
  auto& I = *impl_;
  submission(id);
  if (auto it = I.running.find(id); it != I.running.end()) {
    it->second.cancel->store(true);  // the worker kills the job's process tree
    return true;
  }
  auto it = std::find_if(I.pending.begin(), I.pending.end(), [&](const auto& j) { return j.id == id; });
  if (it == I.pending.end()) return false;
  Impl::Job job = *it;
  I.pending.erase(it);
  GradeResult r;
  r.cancelled = true;
  I.running[id] = job;  // finish() erases it
  I.finish(job, r, {});
  return true;
}

RestoreResult ExamService::restore(int64_t id) {
  auto& I = *impl_;
  const SubmissionRecord rec = submission(id);
  auto& s = I.get(rec.session_id);
  const std::string bytes = source_of(id);
  RestoreResult out;
  out.file = fs::path(s.rec.workspace) / rec.task / rec.source_name;
  fs::create_directories(out.file.parent_path());
  std::error_code ec;
  if (fs::exists(out.file, ec)) {
    const std::string current = read_file(out.file);
    if (current == bytes) return out;  // already that source: nothing to keep, nothing to write
    out.previous_hash = I.db.put_artifact(current);
    // A name no earlier backup has: the second it was made, then -2, -3, ...
    const std::string base = fmt::format(".{}.before-restore-{}", rec.source_name, stamp(I.clock.now_ms()));
    out.previous_copy = out.file.parent_path() / base;
    for (int n = 2; fs::exists(fs::symlink_status(out.previous_copy, ec)); ++n)
      out.previous_copy = out.file.parent_path() / fmt::format("{}-{}", base, n);
    write_atomically(out.previous_copy, current);
  }
  write_atomically(out.file, bytes);
  return out;
}

void ExamService::tick() {
  auto& I = *impl_;
  const int64_t now = I.clock.now_ms();
  for (auto& [id, sp] : I.sessions) {
    auto& s = *sp;
    if (s.rec.state != "running" && s.rec.state != "paused") continue;
    const double left = remaining_seconds(s.rec, now);
    if (left <= 0 && s.rec.state == "running") {
      I.close(s);
      continue;
    }
    std::optional<int> warning;
    for (int w : kWarnings) {
      if (left <= w * 60.0 && w < s.warned) {
        warning = w;
        break;
      }
    }
    if (warning) s.warned = *warning;
    if (warning || now - s.last_timer_ms >= 60'000) {
      s.last_timer_ms = now;
      I.notify([&](ExamListener& l) { l.on_timer(s.rec, left, warning); });
    }
  }
}

bool ExamService::idle() const {
  return impl_->running.empty() && impl_->pending.empty() && impl_->checks_running == 0 && impl_->probes_running == 0;
}

void ExamService::shutdown() {
  auto& I = *impl_;
  if (I.stopping) return;
  I.stopping = true;
  if (I.opts.backends) I.opts.backends->detach_remote_jobs();  // cluster jobs run on; the next daemon picks them up
  for (auto& [id, job] : I.running) job.cancel->store(true);
  for (auto& [id, s] : I.sessions) s->watch.reset();
  I.workers.join();
  if (I.remote_workers) I.remote_workers->join();
  I.checks.join();
  I.probes.join();
  I.alive.reset();  // what the workers posted is now dropped unrun
}

}  // namespace torchexam
