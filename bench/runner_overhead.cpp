// bench/runner_overhead — what the harness costs a training run.
//
// 1. Throughput: the same CNN, the same batches and steps, trained by a bare
//    LibTorch program (bench/bare_cnn) and through the runner (a graded
//    solution), side by side in each repetition; prints samples/s of both and
//    the ratio. The bare program also runs without the allocator tunables the
//    runner sets, to show what they are worth.
// 2. Compile: the reference solution's precompiled-header build, its cold
//    compile (empty build cache, PCH warm) and a warm resubmission (cache
//    hit), and the time from submit to the first training batch when warm.
//
// Usage: runner_overhead [--reps N] [--threads N]
#include "base/hash.hpp"
#include "base/process.hpp"
#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/compiler.hpp"
#include "grading/grader.hpp"
#include "grading/runner_launch.hpp"
#include "support/stats.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>

namespace fs = std::filesystem;
using namespace torchexam;
using bench::median;
using Clock = std::chrono::steady_clock;

namespace {

double bare(int threads, bool tunables) {
  ProcessSpec spec;
  spec.exe = BENCH_BARE_CNN;
  spec.args = {std::to_string(threads)};
  spec.env["OMP_NUM_THREADS"] = std::to_string(threads);
  spec.env["GLIBC_TUNABLES"] = tunables ? runner_environment(threads).at("GLIBC_TUNABLES") : "";
  spec.stderr_file = fs::temp_directory_path() / "bench-bare.stderr";
  spec.wall_timeout_s = 600;
  double sps = 0;
  system_launcher().run(spec, [&](std::string_view line) {
    if (line.rfind("samples_per_s ", 0) == 0) sps = std::stod(std::string(line.substr(14)));
  });
  return sps;
}

class FirstBatch final : public GradeObserver {
 public:
  explicit FirstBatch(Clock::time_point start) : start_(start) {}
  void event(const events::Event& e) override {
    if (std::holds_alternative<events::Progress>(e) && first_ < 0)
      first_ = std::chrono::duration<double>(Clock::now() - start_).count();
  }
  double first_ = -1;

 private:
  Clock::time_point start_;
};

}  // namespace

int main(int argc, char** argv) {
  int reps = 3, threads = 2;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--reps") reps = std::atoi(argv[i + 1]);
    else if (a == "--threads") threads = std::atoi(argv[i + 1]);
  }
  const fs::path src = BENCH_SOURCE_DIR;
  const auto env = config::load_environment(src / "environments/practice");
  const auto* task = env.find_task("fashion_mnist");
  const fs::path work = fs::temp_directory_path() / fmt::format("torchexam-bench-{}", getpid());
  fs::create_directories(work);
  BackendRegistry backends(system_launcher());  // the environment's backend: local for the practice exam

  // The runner-side solution: the shared model header pasted in place of its
  // #include, so the graded file is self-contained like a candidate's.
  std::string sol = read_file(src / "bench/solutions/bench_cnn.cpp");
  const std::string inc = "#include \"../bench_cnn.hpp\"";
  sol.replace(sol.find(inc), inc.size(), read_file(src / "bench/bench_cnn.hpp"));
  { std::ofstream(work / "bench_cnn.cpp") << sol; }

  fmt::print("runner_overhead: CNN, batch 128, 150 timed steps, {} threads, {} repetitions\n", threads, reps);
  // The runner with every sandbox layer it can apply, and with the layers
  // switched off (TORCHEXAM_SANDBOX_DISABLE=all: rlimits only), in turn.
  auto runner = [&](int r, bool layers) -> double {
    if (layers)
      unsetenv("TORCHEXAM_SANDBOX_DISABLE");
    else
      setenv("TORCHEXAM_SANDBOX_DISABLE", "all", 1);
    GradeRequest req;
    req.environment = &env;
    req.task = task;
    req.source = work / "bench_cnn.cpp";
    req.threads = threads;
    req.job_dir = work / fmt::format("job-{}-{}", r, layers ? "layers" : "bare");
    req.cache_dir = work / "cache";
    req.backends = &backends;
    GradeObserver quiet;
    GradeResult g = grade(req, quiet);
    unsetenv("TORCHEXAM_SANDBOX_DISABLE");
    double rs = 0;
    for (const auto& l : g.log)
      if (l.rfind("samples_per_s ", 0) == 0) rs = std::stod(l.substr(14));
    if (rs == 0) fmt::print(stderr, "runner side failed: {} {}\n", to_string(g.verdict), g.message);
    if (layers && r == 1) {
      std::string names;
      for (const auto& l : g.sandbox.layers) names += " " + l;
      fmt::print("layers on:{}\n", names);
    }
    return rs;
  };
  fmt::print("{:>4} {:>12} {:>14} {:>15} {:>12} {:>14} {:>18}\n", "rep", "bare s/s", "runner s/s", "no layers s/s",
             "runner/bare", "layers/none", "bare, no tunables");
  std::vector<double> ratios, layer_ratios, bares, runners, unlayered, plains;
  for (int r = 1; r <= reps; ++r) {
    const double b = bare(threads, true);
    const double rs = runner(r, true);
    const double none = runner(r, false);
    if (rs == 0 || none == 0) return 1;
    const double p = bare(threads, false);
    fmt::print("{:>4} {:>12.0f} {:>14.0f} {:>15.0f} {:>12.3f} {:>14.3f} {:>18.0f}\n", r, b, rs, none, rs / b,
               rs / none, p);
    bares.push_back(b);
    runners.push_back(rs);
    unlayered.push_back(none);
    ratios.push_back(rs / b);
    layer_ratios.push_back(rs / none);
    plains.push_back(p);
  }
  fmt::print("median: bare {:.0f}, runner {:.0f}, runner without layers {:.0f}; ratio runner/bare {:.3f}, "
             "layers on/off {:.3f}; tunables speed-up {:.2f}x\n",
             median(bares), median(runners), median(unlayered), median(ratios), median(layer_ratios),
             median(bares) / median(plains));

  // Compile times for the reference solution.
  const fs::path cache = work / "compile-cache";
  Compiler c(compiler_options(env, cache));
  auto t0 = Clock::now();
  c.ensure_pch();
  const double pch_s = std::chrono::duration<double>(Clock::now() - t0).count();
  BuildOutput cold = c.build(task->reference);
  BuildOutput warm = c.build(task->reference);
  GradeRequest req;
  req.environment = &env;
  req.task = task;
  req.source = task->reference;
  req.threads = threads;
  req.budget_s = 20;  // enough to reach the first batch; the score is not the point
  req.job_dir = work / "first-batch";
  req.cache_dir = cache;
  req.backends = &backends;
  const auto submit = Clock::now();
  FirstBatch fb(submit);
  grade(req, fb);
  fmt::print("compile (reference.cpp): PCH build {:.1f} s, cold {:.1f} s{}, warm {:.2f} s{}; "
             "submit to first training batch (warm) {:.2f} s\n",
             pch_s, cold.seconds, cold.ok ? "" : " FAILED", warm.seconds, warm.cached ? " (cache hit)" : "",
             fb.first_);
  fs::remove_all(work);
  return 0;
}
