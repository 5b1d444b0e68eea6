// bench/warm_runner — what the warm runner (grading/warm_runner.hpp) saves:
// fresh runner processes against runners forked from a zygote, side by
// side in each repetition, on the fashion_mnist task with its full data
// (60k training images staged, 10k hidden test inputs).
//
// The solution is the fashion_mnist reference cut to 20 training steps, so
// that a grading is mostly what the runner costs, not training. Per grading:
//   - start to first batch: from the start of the training phase (the
//     grader's `train` phase) to the first progress event, i.e. process
//     start (or fork), sandbox, loading the library and the staged arrays,
//     the contract check and one training step;
//   - evaluation phase: from the start of the `evaluate` phase to the start
//     of `score`, i.e. the runner started, the checkpoint loaded, 10k
//     predictions computed and written, the process ended.
// Before those, the runner's bare start: `train --help` started fresh and
// forked, 10 times each, from the call to its end.
// One untimed grading per path first (build cache, staged data, the zygote),
// in the cache of `torchexam` (TORCHEXAM_CACHE_DIR or the user's).
//
// Usage: warm_runner [--reps N] [--threads N]
#include "grading/warm_runner.hpp"
#include "base/hash.hpp"
#include "base/paths.hpp"
#include "base/process.hpp"
#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/grader.hpp"
#include "grading/runner_launch.hpp"
#include "support/stats.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>

namespace fs = std::filesystem;
using namespace torchexam;
using bench::median;
using Clock = std::chrono::steady_clock;

namespace {

class PhaseClock final : public GradeObserver {
 public:
  void phase(std::string_view name) override { phases_[std::string(name)] = Clock::now(); }
  void event(const events::Event& e) override {
    if (std::holds_alternative<events::Progress>(e) && !first_batch_) first_batch_ = Clock::now();
  }
  double first_batch_s() const { return since("train", *first_batch_); }
  double evaluation_s() const { return since("evaluate", phases_.at("score")); }

 private:
  double since(const std::string& phase, Clock::time_point t) const {
    return std::chrono::duration<double>(t - phases_.at(phase)).count();
  }
  std::map<std::string, Clock::time_point> phases_;
  std::optional<Clock::time_point> first_batch_;
};

struct Figures {
  double first_batch_s = 0, evaluation_s = 0;
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 5, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--reps")
      reps = std::atoi(argv[i + 1]);
    else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
  }
  const fs::path src = BENCH_SOURCE_DIR;
  const auto env = config::load_environment(src / "environments/practice");
  const auto* task = env.find_task("fashion_mnist");
  const fs::path work = fs::temp_directory_path() / fmt::format("torchexam-bench-warm-{}", getpid());
  fs::create_directories(work);

  std::string sol = read_file(task->reference);
  const std::string loop = "for (auto& batch : ctx.batches(kBatch)) {";
  sol.replace(sol.find(loop), loop.size(), "int steps = 0;\n    " + loop + "\n      if (++steps > 20) break;");
  const std::string epochs = "constexpr int kEpochs = 8;";
  sol.replace(sol.find(epochs), epochs.size(), "constexpr int kEpochs = 1;");
  { std::ofstream(work / "solution.cpp") << sol; }

  WarmRunnerLauncher warm(system_launcher(),
                          {paths::runner(), [](std::string_view l) { fmt::print(stderr, "warm runner: {}\n", l); }});
  BackendRegistry fresh_backends(system_launcher()), warm_backends(warm);
  auto run = [&](bool use_warm, const std::string& name) -> std::optional<Figures> {
    GradeRequest req;
    req.environment = &env;
    req.task = task;
    req.source = work / "solution.cpp";
    req.threads = threads;
    req.job_dir = work / name;
    req.cache_dir = paths::cache_dir();  // the precompiled header and the staged data set are reused
    req.backends = use_warm ? &warm_backends : &fresh_backends;
    req.backend = &req.backends->local();
    PhaseClock t;
    const GradeResult g = grade(req, t);
    fs::remove_all(req.job_dir);
    if (g.verdict != Verdict::ok) {
      fmt::print(stderr, "{}: {} {}\n", name, to_string(g.verdict), g.message);
      return std::nullopt;
    }
    return Figures{t.first_batch_s(), t.evaluation_s()};
  };

  // What the zygote saves and nothing else: a runner that parses its
  // command line and exits (`train --help`), fresh and forked, alternating.
  auto start_to_exit = [&](ProcessLauncher& launcher) {
    ProcessSpec spec;
    spec.exe = paths::runner();
    spec.args = {"train", "--help"};
    spec.env = runner_environment(threads);
    spec.stderr_file = work / "help.stderr";
    const auto t0 = Clock::now();
    launcher.run(spec, [](std::string_view) {});
    return std::chrono::duration<double>(Clock::now() - t0).count();
  };
  std::vector<double> fresh_start, warm_start;
  start_to_exit(warm);  // starts the zygote
  for (int i = 0; i < 10; ++i) {
    fresh_start.push_back(start_to_exit(system_launcher()));
    warm_start.push_back(start_to_exit(warm));
  }
  fmt::print(
      "runner start to exit (train --help), 10 each: fresh median {:.3f} s (min {:.3f}), warm median {:.3f} s "
      "(min {:.3f})\n",
      median(fresh_start), bench::percentile(fresh_start, 0), median(warm_start), bench::percentile(warm_start, 0));
  std::fflush(stdout);

  fmt::print("warm_runner: fashion_mnist (full data), the reference cut to 20 steps, {} threads, {} repetitions\n",
             threads, reps);
  if (!run(false, "warmup-fresh") || !run(true, "warmup-warm")) return 1;
  fmt::print("{:>4} {:>20} {:>20} {:>18} {:>18}\n", "rep", "fresh: first batch", "warm: first batch",
             "fresh: evaluation", "warm: evaluation");
  std::vector<double> ff, wf, fe, we;
  for (int r = 1; r <= reps; ++r) {
    const auto f = run(false, fmt::format("fresh-{}", r));
    const auto w = run(true, fmt::format("warm-{}", r));
    if (!f || !w) return 1;
    fmt::print("{:>4} {:>18.3f} s {:>18.3f} s {:>16.3f} s {:>16.3f} s\n", r, f->first_batch_s, w->first_batch_s,
               f->evaluation_s, w->evaluation_s);
    std::fflush(stdout);
    ff.push_back(f->first_batch_s);
    wf.push_back(w->first_batch_s);
    fe.push_back(f->evaluation_s);
    we.push_back(w->evaluation_s);
  }
  fmt::print(
      "median: start to first batch fresh {:.3f} s, warm {:.3f} s ({:.2f}x); evaluation phase fresh {:.3f} s, "
      "warm {:.3f} s ({:.2f}x)\n",
      median(ff), median(wf), median(ff) / median(wf), median(fe), median(we), median(fe) / median(we));
  fs::remove_all(work);
  return 0;
}
