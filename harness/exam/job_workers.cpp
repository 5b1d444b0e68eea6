#include "exam/job_workers.hpp"

#include "grading/grade_json.hpp"
#include "grading/job_dirs.hpp"

#include <boost/asio/post.hpp>
#include <boost/json/value.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cmath>
#include <stdexcept>

namespace torchexam {
namespace fs = std::filesystem;

namespace {

// The grader names its phases by the stages' names (grader.cpp); another
// name is the harness's own fault, and the grading ends as internal_error.
Stage stage_of(std::string_view phase) {
  if (auto s = parse_stage(phase)) return *s;
  throw std::logic_error("the grader reported a phase that is no stage: '" + std::string(phase) + "'");
}

}  // namespace

// Turns the grader's callbacks into notes on the io thread and the job's
// training curve; lives on the worker thread for one job.
class JobWorkers::Observer final : public GradeObserver {
 public:
  Observer(JobWorkers& workers, Job job) : w_(workers), job_(std::move(job)) {}
  void phase(std::string_view name) override { post(stage_of(name), std::nullopt); }
  void queued(std::string_view phase, int position) override {
    note(position > 0 ? Stage::queued : stage_of(phase), position, std::nullopt);
  }
  void event(const events::Event& e) override {
    const auto* p = std::get_if<events::Progress>(&e);
    if (!p) return;
    if (p->kind == events::Progress::Kind::epoch) curve.push_back(curve_point(*p));
    post(Stage::train, *p);
  }
  std::vector<CurvePoint> curve;

 private:
  // A regrade's progress is neither the submission's history nor news of it:
  // only its curve is kept (for the new judging).
  void post(Stage stage, std::optional<events::Progress> p) {
    if (job_.regrade) return;
    if (p) w_.events_.append(job_.id, events::to_json_line(*p));
    note(stage, 0, std::move(p));
  }
  void note(Stage stage, int position, std::optional<events::Progress> p) {
    if (job_.regrade) return;
    w_.io_.post([&out = w_.out_, n = ProgressNote{job_.target.session, job_.id, job_.task, stage, position,
                                                  std::move(p)}] { out.on_progress(n); });
  }
  JobWorkers& w_;
  Job job_;
};

JobWorkers::JobWorkers(const IoHandoff& io, store::Store& store, EventLog& events, ArtifactKeeper& artifacts,
                       WorkerThreads& housekeeping, ExamListener& out, JobWorkersOptions options, GradeFn grade,
                       RescoreFn rescore)
    : io_(io),
      db_(store),
      events_(events),
      artifacts_(artifacts),
      housekeeping_(housekeeping),
      out_(out),
      opts_(std::move(options)),
      grade_(std::move(grade)),
      rescore_(std::move(rescore)),
      local_(static_cast<size_t>(std::max(1, opts_.concurrency))) {}

void JobWorkers::start(const Job& job, const store::SubmissionRecord& rec, Done done) {
  const config::TaskConfig* task = job.target.env->find_task(job.task);
  if (!task) throw std::runtime_error(job.target.env->unknown_task(job.task, "this exam"));
  // A resumed cluster grading picks up the folder its jobs left behind:
  // they may still be writing there.
  const fs::path before = opts_.jobs_dir / fmt::format("{}-{}", job.id, rec.attempts - 1);
  const bool resumed = !job.regrade && job.resume && job.remote() && fs::is_directory(before);
  fs::path dir = resumed ? before : opts_.jobs_dir / fmt::format("{}-{}", job.id, rec.attempts);
  if (job.regrade) {
    dir = opts_.jobs_dir / fmt::format("regrade-{}-{}", job.regrade->rejudge, job.id);
    fs::remove_all(dir);  // an earlier attempt's, before a restart
    if (job.regrade->rescore) return start_rescore(job, dir, std::move(done));
  }
  fs::create_directories(dir / "src");
  const fs::path source = dir / "src" / rec.source_name;
  const auto bytes = db_.get_artifact(rec.source_hash);
  if (!bytes) throw std::runtime_error("the submitted source is missing from the store (" + rec.source_hash + ")");
  write_or_refuse(source, *bytes);

  GradeRequest req;
  req.environment = job.target.env.get();  // the job holds it
  req.task = task;
  req.source = source;
  req.job_dir = dir;
  req.display_name = (fs::path(job.target.workspace) / job.task / rec.source_name).string();
  req.cache_dir = opts_.cache_dir;
  req.backends = opts_.backends;
  req.cancel = job.cancel.get();
  req.resume = resumed;
  // Held until the artifacts are stored: pruning leaves the folder alone.
  auto in_use = std::make_shared<JobDirInUse>(dir);
  if (job.remote() && !cluster_)
    cluster_ = std::make_unique<boost::asio::thread_pool>(static_cast<size_t>(cluster_slots(*job.target.env)));
  boost::asio::post(job.remote() ? *cluster_ : local_, [this, job, req, in_use, done = std::move(done)]() mutable {
    apply_scheduling();
    Observer obs(*this, job);
    JobOutcome outcome;
    try {
      outcome.result = grade_(req, obs);
    } catch (const std::exception& e) {
      outcome.result.verdict = Verdict::internal_error;
      outcome.result.message = e.what();
    }
    if (!outcome.result.cancelled) outcome.artifacts = artifacts_.keep(outcome.result.job_dir);
    in_use.reset();
    outcome.curve = std::move(obs.curve);
    io_.post([done = std::move(done), outcome = std::move(outcome)]() mutable { done(std::move(outcome)); });
  });
}

void JobWorkers::start_rescore(const Job& job, const fs::path& dir, Done done) {
  GradeRecord before = boost::json::value_to<GradeRecord>(boost::json::parse(job.regrade->before));
  RescoreRequest req;
  req.environment = job.target.env.get();  // the job holds it
  req.task = job.target.env->find_task(job.task);
  req.cache_dir = opts_.cache_dir;
  if (auto it = before.artifacts.find("predictions"); it != before.artifacts.end()) {
    if (const auto bytes = db_.get_artifact(it->second)) {
      req.predictions = dir / "evaluate" / "predictions.bin";
      fs::create_directories(req.predictions.parent_path());
      write_or_refuse(req.predictions, *bytes);
    }
  }
  req.before = std::move(before.grade);
  boost::asio::post(local_, [this, job, req = std::move(req), artifacts = std::move(before.artifacts), dir,
                             done = std::move(done)]() mutable {
    apply_scheduling();
    JobOutcome outcome;
    try {
      Rescored r = rescore_(req);
      outcome.result = std::move(r.result);
      outcome.note = std::move(r.note);
    } catch (const std::exception& e) {
      outcome.result.verdict = Verdict::internal_error;
      outcome.result.message = e.what();
    }
    outcome.artifacts = std::move(artifacts);  // the same run: its checkpoint and predictions
    std::error_code ec;
    fs::remove_all(dir, ec);
    io_.post([done = std::move(done), outcome = std::move(outcome)]() mutable { done(std::move(outcome)); });
  });
}

// Linux keeps the nice value per thread and a child inherits its
// creator's: set once per worker thread, it applies to every job it runs.
void JobWorkers::apply_scheduling() const {
  thread_local bool scheduled = false;
  if (!scheduled)
    scheduled = opts_.job_nice <= 0 || ::setpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()), opts_.job_nice) == 0;
}

// The store keeps what history needs; older job folders go (job_dirs.hpp),
// but never one of a submission still queued or running (a resumed cluster
// grading reuses its folder). The removal runs on the housekeeping thread,
// one pruning at a time.
void JobWorkers::prune(const std::set<int64_t>& busy) {
  std::set<std::string> names;
  for (int64_t id : busy) names.insert(std::to_string(id));
  housekeeping_.post([dir = opts_.jobs_dir, names = std::move(names)] {
    prune_job_dirs(dir, kKeepJobDirs, [&](const std::string& name) {
      const size_t dash = name.find('-');  // <submission>-<attempt>
      return dash != std::string::npos && name.find_first_not_of("0123456789-") == std::string::npos &&
             names.count(name.substr(0, dash)) == 0;
    });
  });
}

void JobWorkers::join() {
  local_.join();
  if (cluster_) cluster_->join();
}

}  // namespace torchexam
