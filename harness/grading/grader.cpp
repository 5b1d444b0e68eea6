#include "grading/grader.hpp"

#include "base/hash.hpp"
#include "base/paths.hpp"
#include "config/data_sets.hpp"
#include "grading/job_dirs.hpp"
#include "grading/runner_launch.hpp"
#include "grading/scorer.hpp"
#include "grading/staging.hpp"

#include <torchexam/plugin.hpp>

#include <fmt/chrono.h>
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <random>

namespace torchexam {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

fs::path new_job_dir(const std::string& task) {
  const auto now = std::chrono::system_clock::now();
  std::random_device rd;
  return paths::state_dir() / "jobs" /
         fmt::format("{:%Y%m%d-%H%M%S}-{}-{:06x}", fmt::localtime(std::chrono::system_clock::to_time_t(now)), task,
                     rd() & 0xffffff);
}

// The first error (the compiler puts the candidate's line first, see
// parse_gcc_diagnostics), and how many more there are.
std::string first_error(const std::vector<Diagnostic>& ds) {
  const Diagnostic* first = nullptr;
  size_t more = 0;
  for (const auto& d : ds) {
    if (d.severity != "error" && d.severity != "fatal error") continue;
    if (first) ++more;
    else first = &d;
  }
  if (!first) return "the compiler failed without a diagnostic; see the build log";
  std::string out =
      first->line ? fmt::format("{}:{}:{}: {}", first->file, first->line, first->column, first->message) : first->message;
  if (more) out += fmt::format(" (and {} more error{})", more, more == 1 ? "" : "s");
  return out;
}

// The one place a runner phase's outcome enters the result: its log lines,
// what it used (the training's CPU time and RSS; the largest peak memory),
// its sandbox (the last layers reported; the first phase's limits), and the
// candidate's printed output (policy.cpp: output.log in the phase's folder),
// when there is any. The verdict is the caller's to take (judge()).
void add_phase(GradeResult& out, const RunnerJob& job, const RunnerOutcome& phase) {
  const bool train = job.phase == RunnerJob::Phase::train;
  out.log.insert(out.log.end(), phase.log.begin(), phase.log.end());
  if (train) {
    out.used.cpu_s = phase.used.cpu_s;
    out.used.max_rss_kb = phase.used.max_rss_kb;
  }
  out.used.peak_memory_bytes = std::max(out.used.peak_memory_bytes, phase.used.peak_memory_bytes);
  if (!phase.sandbox.layers.empty() || out.sandbox.layers.empty()) {
    out.sandbox.layers = phase.sandbox.layers;
    out.sandbox.notes = phase.sandbox.notes;
  }
  if (out.sandbox.limits.wall_s == 0) out.sandbox.limits = phase.sandbox.limits;
  std::error_code ec;
  const fs::path log = job.workdir / "output.log";
  const auto size = fs::file_size(log, ec);
  if (!ec && fs::is_regular_file(fs::symlink_status(log, ec)))
    out.output.push_back({train ? "train" : "evaluate", log, size});
}

// The result judged by a phase's outcome, with `message` in its words.
void judge(GradeResult& out, const RunnerOutcome& phase, std::string message) {
  out.verdict = phase.verdict;
  out.message = std::move(message);
  out.detail = phase.detail;
}

bool regular_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(fs::symlink_status(p, ec));
}

}  // namespace

bool is_grade_job_dir(const std::string& name) {
  // 8 digits, '-', 6 digits, '-' (new_job_dir()).
  if (name.size() < 17 || name[8] != '-' || name[15] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14})
    if (name[i] < '0' || name[i] > '9') return false;
  return true;
}

bool is_torchscript(const fs::path& source) {
  const auto ext = source.extension().string();
  return ext == ".pt" || ext == ".pth";
}

std::map<std::string, std::string> task_plugin_options(const config::Environment& env, const config::TaskConfig& task) {
  auto options = task.options;
  if (!task.data.empty()) {
    // The plugin reads the environment's installed data set.
    const auto* set = env.find_data(task.data);
    const fs::path dir = data_sets::set_dir(*set, paths::data_dir());
    if (!fs::is_directory(dir))
      throw std::runtime_error(fmt::format("the data set '{}' is not installed in {}; install it with: {}", task.data,
                                           dir.string(), data_sets::install_command(*set, env.dir)));
    options["data_dir"] = dir.string();
  }
  return options;
}

StageRequest task_stage_request(const config::Environment& env, const config::TaskConfig& task,
                                const fs::path& plugin, const std::map<std::string, std::string>& options,
                                const fs::path& cache_dir) {
  StageRequest out{plugin, options, cache_dir, {}};
  if (!task.data.empty()) {
    const auto* set = env.find_data(task.data);
    auto dd = options.find("data_dir");
    if (dd != options.end() && dd->second == data_sets::set_dir(*set, paths::data_dir()).string())
      for (const auto& item : set->items) out.data_pins.push_back(item.sha256);
  }
  return out;
}

std::string score_message(const std::string& metric_name, double metric, int score) {
  return fmt::format("{} {:.4f} on the hidden test data: score {}/5", metric_name, metric, score);
}

GradeResult grade(const GradeRequest& req, GradeObserver& observer) {
  const auto start = Clock::now();
  GradeResult out;
  const auto& env = *req.environment;
  const auto& task = *req.task;
  out.metric_name = task.metric;
  // Filled as the grading learns them; the fingerprint is taken at the end.
  std::optional<FingerprintInputs> fp;
  auto done = [&]() -> GradeResult {
    if (fp) {
      fp->sandbox_layers = out.sandbox.layers;
      out.fingerprint = capture_fingerprint(*fp, req.probes ? *req.probes : system_fingerprint_probes(), &out.log);
    }
    out.timings.total_s = since(start);
    return std::move(out);
  };

  try {
    if (!req.backend && !req.backends)
      throw std::runtime_error(
          "the harness gave grade() no backend and no backend registry to run the phases on "
          "(set GradeRequest::backend or GradeRequest::backends)");
    Backend& backend = req.backend ? *req.backend : req.backends->for_grading(env.grading);
    out.backend = std::string(backend.name());
    out.job_dir = req.job_dir.empty() ? new_job_dir(task.id) : req.job_dir;
    fs::path cache = req.cache_dir.empty() ? paths::cache_dir() : req.cache_dir;
    if (const fs::path shared = backend.shared_dir(); !shared.empty()) {
      // The cluster's nodes see only the shared folder.
      auto inside = [&](const fs::path& p) {
        const auto rel = fs::absolute(p).lexically_normal().lexically_relative(shared.lexically_normal());
        return !rel.empty() && *rel.begin() != "..";
      };
      if (!inside(out.job_dir))
        out.job_dir = shared / "jobs" /
                      fmt::format("{}-{}", sha256_hex(fs::absolute(out.job_dir).string()).substr(0, 12),
                                  out.job_dir.filename().string());
      if (!inside(cache)) cache = shared / "cache";
    }
    fs::create_directories(out.job_dir);
    // A folder made here is ours to hold while we work in it (job_dirs.hpp);
    // a caller that named one holds it itself.
    std::optional<JobDirInUse> in_use;
    if (req.job_dir.empty()) in_use.emplace(out.job_dir);
    const fs::path plugin = paths::plugin(task.plugin);
    auto options = task_plugin_options(env, task);
    for (const auto& [k, v] : req.extra_options) options[k] = v;
    const int threads = req.threads > 0 ? req.threads : task.threads > 0 ? task.threads : env.threads;
    const double budget = req.budget_s > 0 ? req.budget_s : task.time_budget_s;
    fp.emplace();
    fp->environment = &env;
    fp->task = &task;
    fp->source = req.source;
    fp->plugin = plugin;
    fp->options = options;
    fp->seed = task.seed;
    fp->threads = threads;
    fp->budget_s = budget;
    fp->deterministic = req.deterministic;

    auto cancelled = [&] {
      out.cancelled = true;
      out.message = "cancelled";
      return done();
    };

    // Stage: the plugin runs here, on the trusted side, and leaves the
    // training split and the test inputs (never their labels) in the cache.
    observer.phase("stage");
    auto t0 = Clock::now();
    StageRequest stage_request = task_stage_request(env, task, plugin, options, cache);
    stage_request.cancel = req.cancel;
    fp->data_pins = stage_request.data_pins;
    const StagedTask staged = stage_task(stage_request, [&](const std::string& line) {
      out.log.push_back(line);
      observer.event(events::Log{line});
    });
    out.timings.stage_s = since(t0);
    if (staged.cancelled) return cancelled();
    out.stage_cached = staged.cached;

    {  // The plugin must be the one the task expects, with the ladder's direction.
      const auto& info = staged.spec;
      if (!info.metric_name.empty() && task.metric != info.metric_name)
        throw std::runtime_error(fmt::format("{}: task metric '{}' but plugin '{}' measures '{}'",
                                             task.metric_mark.str(), task.metric, task.plugin, info.metric_name));
      if (info.higher_is_better != task.ladder.higher_is_better)
        throw std::runtime_error(fmt::format("{}: the ladder runs the wrong way for {} ({} is better)",
                                             task.ladder.where.str(),
                                             info.metric_name.empty() ? task.metric : info.metric_name,
                                             info.higher_is_better ? "higher" : "lower"));
    }

    std::optional<RunnerOutcome> stopped;  // training ran out of time but left a checkpoint
    RunnerJob eval;
    eval.phase = RunnerJob::Phase::evaluate;
    eval.spec = staged.spec_file();
    eval.inputs = staged.evaluate_inputs();
    eval.workdir = out.job_dir / "evaluate";
    eval.predictions = eval.workdir / "predictions.bin";
    eval.seed = task.seed;
    eval.threads = threads;
    eval.deterministic = req.deterministic;
    eval.budget_s = 120;
    eval.memory_bytes = task.memory_limit_bytes;
    eval.cancel = req.cancel;
    eval.resume = req.resume;
    if (is_torchscript(req.source)) {
      eval.torchscript = fs::absolute(req.source);
    } else {
      observer.phase("build");
      t0 = Clock::now();
      CompilerOptions co = compiler_options(env, cache);
      co.cancel = req.cancel;
      co.backend = &backend;
      co.launcher = req.launcher;
      Compiler compiler(co);
      fp->compiler_identity = compiler.identity();
      fp->compiler_flags = codegen_flags(co.standard, co.flags);
      BuildOutput build = compiler.build(req.source, req.display_name);
      if (build.cancelled) return cancelled();
      out.timings.build_s = since(t0);
      out.build_cached = build.cached;
      out.diagnostics = build.diagnostics;
      if (!build.ok) {
        out.verdict = Verdict::compile_error;
        out.message = build.timed_out ? fmt::format("compilation did not finish within {:.0f} s", env.compile_timeout_s)
                                      : first_error(build.diagnostics);
        return done();
      }

      observer.phase("train");
      t0 = Clock::now();
      RunnerJob train = training_job(staged, task, build.library, out.job_dir / "train", threads, budget);
      train.cancel = req.cancel;
      train.resume = req.resume;
      train.deterministic = req.deterministic;
      train.on_queued = [&](int position) { observer.queued("train", position); };
      RunnerOutcome trained = launch_runner(train, [&](const events::Event& e) { observer.event(e); }, backend);
      out.timings.train_s = since(t0);
      add_phase(out, train, trained);
      fp->platform = trained.platform;
      if (trained.cancelled) return cancelled();
      const bool out_of_time = trained.verdict == Verdict::timeout || trained.verdict == Verdict::cpu_limit;
      if (out_of_time && regular_file(train.checkpoint)) {
        stopped = trained;  // graded below, under this verdict
      } else if (trained.verdict != Verdict::ok) {
        judge(out, trained,
              out_of_time ? trained.message +
                                "; no checkpoint was saved, so nothing could be graded (call "
                                "ctx.checkpoint() after each epoch to have the last one graded when "
                                "time runs out)"
                          : trained.message);
        return done();
      }
      if (!stopped) {  // Written by untrusted code: a link would make the next phase read a host file.
        std::error_code ec;
        const auto st = fs::symlink_status(train.checkpoint, ec);
        if (!fs::is_regular_file(st)) {
          out.verdict = fs::is_symlink(st) ? Verdict::forbidden : Verdict::runtime_error;
          out.message = fs::is_symlink(st) ? "training left a symbolic link where the checkpoint belongs; the trained "
                                             "weights must be a regular file"
                                           : "training reported success but wrote no checkpoint";
          return done();
        }
      }
      eval.solution = build.library;
      eval.checkpoint = train.checkpoint;
    }

    observer.phase("evaluate");
    t0 = Clock::now();
    eval.on_queued = [&](int position) { observer.queued("evaluate", position); };
    RunnerOutcome evaluated = launch_runner(eval, [&](const events::Event& e) { observer.event(e); }, backend);
    out.timings.evaluate_s = since(t0);
    add_phase(out, eval, evaluated);
    if (evaluated.platform) fp->platform = evaluated.platform;
    if (evaluated.cancelled) return cancelled();
    // What the run is judged by when training ran out of time: its verdict,
    // with the last checkpoint's score (or why there is none).
    auto judged_as_stopped = [&](const std::string& what) { judge(out, *stopped, stopped->message + "; " + what); };
    if (evaluated.verdict != Verdict::ok) {
      judge(out, evaluated, "evaluation: " + evaluated.message);
      if (stopped) judged_as_stopped("its last checkpoint could not be evaluated: " + evaluated.message);
      return done();
    }

    observer.phase("score");
    t0 = Clock::now();
    try {
      Array predictions = read_checked_predictions(eval.predictions, staged.spec.output, staged.spec.test_samples);
      ScoreOutcome s = score_predictions(plugin, options, predictions, task.ladder);
      out.metric = s.metric;
      out.score = s.score;
      out.task_diagnostics = std::move(s.diagnostics);
      if (!s.diagnostics_note.empty()) {
        out.log.push_back(s.diagnostics_note);
        observer.event(events::Log{s.diagnostics_note});
      }
      out.verdict = Verdict::ok;
      out.message = score_message(task.metric, s.metric, s.score);
      if (stopped)
        judged_as_stopped(fmt::format("graded the last checkpoint the solution saved (ctx.checkpoint()): {}",
                                      out.message));
    } catch (const ContractViolation& e) {
      out.verdict = Verdict::contract;
      out.message = e.what();
      if (stopped) judged_as_stopped(std::string("its last checkpoint's predictions were refused: ") + e.what());
    } catch (const InvalidPredictions& e) {
      out.verdict = Verdict::runtime_error;
      out.message = std::string("evaluation: ") + e.what();
      if (stopped) judged_as_stopped(std::string("its last checkpoint's predictions were refused: ") + e.what());
    }
    out.timings.score_s = since(t0);
  } catch (const std::exception& e) {
    out.verdict = Verdict::internal_error;
    out.message = e.what();
  }
  return done();
}

}  // namespace torchexam
