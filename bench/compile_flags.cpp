// bench/compile_flags — what the compiler and the optimisation level of the
// candidate's translation unit cost and buy, side by side in one run: for
// each compiler and flag set, the precompiled header's build, then per task a cold compile of the
// reference (a copy made unique by a comment, so no cache entry answers for
// it; the precompiled header is warm) and, unless --no-train, a grading of
// that build (training time and the metric, which must not change).
//
// Usage: compile_flags [--env DIR] [--compiler gcc|clang]... [--flags "-O2"]... [--task ID]...
//                      [--rounds N] [--no-train]
// The compilers replace the environment's `compiler: id:` (default: the
// environment's), the flag sets its `compiler: flags:` (default: -O2, -O1,
// -Og and -O0). Tasks are taken in turn and the variants (each compiler with
// each flag set) in turn within each task, so a slow stretch of a busy
// machine falls on all of them alike.
#include "base/hash.hpp"
#include "base/process.hpp"
#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/compiler.hpp"
#include "grading/grader.hpp"
#include "support/stats.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <numeric>
#include <sstream>

namespace fs = std::filesystem;
using namespace torchexam;

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds (user + system) of the children this process has waited for.
double children_cpu_s() {
  rusage u{};
  ::getrusage(RUSAGE_CHILDREN, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

std::vector<std::string> split_flags(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string f; in >> f;) out.push_back(f);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Compile time and training speed of the references per compiler and optimisation level of the candidate's code"};
  fs::path env_dir = fs::path(BENCH_SOURCE_DIR) / "environments/practice";
  std::vector<std::string> flag_sets;
  std::vector<std::string> compilers;
  std::vector<std::string> only;
  int rounds = 1;
  bool no_train = false;
  app.add_option("--env", env_dir, "the environment whose references are compiled")->check(CLI::ExistingDirectory);
  app.add_option("--compiler", compilers, "a compiler replacing compiler.id (repeat; default the environment's)")
      ->check(CLI::IsMember({"gcc", "clang"}));
  app.add_option("--flags", flag_sets, "a flag set replacing compiler.flags (repeat; default -O2, -O1, -Og, -O0)");
  app.add_option("--task", only, "only these tasks (repeat)");
  app.add_option("--rounds", rounds, "cold compiles per task and flag set (their median is printed)")
      ->check(CLI::PositiveNumber);
  app.add_flag("--no-train", no_train, "compile only: no grading");
  CLI11_PARSE(app, argc, argv);
  if (flag_sets.empty()) flag_sets = {"-O2", "-O1", "-Og", "-O0"};

  const config::Environment base = config::load_environment(env_dir);
  const fs::path work = fs::temp_directory_path() / fmt::format("torchexam-compile-flags-{}", getpid());
  const fs::path cache = work / "cache";
  fs::create_directories(cache);
  BackendRegistry backends(system_launcher());

  if (compilers.empty()) compilers = {base.pins.compiler_id};
  // A variant: "<compiler> <flags>", or the flags alone for the environment's compiler.
  std::vector<std::string> variants;
  std::map<std::string, config::Environment> envs;
  fmt::print("compile_flags: {} (cache {})\n", env_dir.string(), cache.string());
  for (const auto& id : compilers)
    for (const auto& set : flag_sets) {
      config::Environment env = base;
      env.pins.compiler_id = id;
      env.compiler_flags = split_flags(set);
      const std::string name = compilers.size() > 1 ? id + " " + set : set;
      const auto t0 = std::chrono::steady_clock::now();
      Compiler compiler(compiler_options(env, cache));
      compiler.ensure_pch();
      fmt::print("precompiled header for {} with [{}]: {:.1f} s\n", compiler.identity(), set, seconds_since(t0));
      std::fflush(stdout);
      variants.push_back(name);
      envs.emplace(name, std::move(env));
    }

  fmt::print("\n{:<22} {:<12} {:>9} {:>9} {:>9} {:>8} {:>12} {:>6}  {}\n", "task", "variant", "build s", "build cpu",
             "train s", "eval s", "metric", "score", "verdict");
  std::map<std::string, std::vector<double>> builds, build_cpus, trains;
  for (const auto& task_base : base.tasks) {
    if (!only.empty() && std::find(only.begin(), only.end(), task_base.id) == only.end()) continue;
    if (task_base.reference.empty()) continue;
    const std::string reference = read_file(task_base.reference);
    for (const auto& set : variants) {
      const config::Environment& env = envs.at(set);
      const config::TaskConfig& task =
          *std::find_if(env.tasks.begin(), env.tasks.end(), [&](const auto& t) { return t.id == task_base.id; });
      std::vector<double> compile_s, compile_cpu_s;
      fs::path source;
      for (int r = 0; r < rounds; ++r) {
        source = work / fmt::format("{}-{}-{}.cpp", task.id, sha256_hex(set).substr(0, 8), r);
        write_file_atomically(source, fmt::format("// compile_flags {} {} round {} {}\n", set, getpid(), r,
                                       std::chrono::system_clock::now().time_since_epoch().count()) +
                               reference);
        const double cpu0 = children_cpu_s();
        const BuildOutput b = Compiler(compiler_options(env, cache)).build(source);
        compile_cpu_s.push_back(children_cpu_s() - cpu0);
        if (!b.ok) {
          fmt::print(stderr, "{} [{}]: the build failed:\n{}\n", task.id, set, b.log);
          return 1;
        }
        compile_s.push_back(b.seconds);
      }
      const double build = bench::median(compile_s), build_cpu = bench::median(compile_cpu_s);
      builds[set].push_back(build);
      build_cpus[set].push_back(build_cpu);
      if (no_train) {
        fmt::print("{:<22} {:<12} {:>9.1f} {:>9.1f}\n", task.id, set, build, build_cpu);
        std::fflush(stdout);
        continue;
      }
      GradeRequest req;
      req.environment = &env;
      req.task = &task;
      req.source = source;  // the last round's build, cached
      req.job_dir = work / fmt::format("job-{}-{}", task.id, sha256_hex(set).substr(0, 8));
      req.cache_dir = cache;
      req.backends = &backends;
      GradeObserver quiet;
      const GradeResult g = grade(req, quiet);
      trains[set].push_back(g.timings.train_s);
      fmt::print("{:<22} {:<12} {:>9.1f} {:>9.1f} {:>9.1f} {:>8.1f} {:>12} {:>4}/5  {}{}\n", task.id, set, build,
                 build_cpu, g.timings.train_s, g.timings.evaluate_s, g.metric ? fmt::format("{:.6f}", *g.metric) : std::string("-"),
                 g.score, to_string(g.verdict), g.verdict == Verdict::ok ? "" : ": " + g.message);
      std::fflush(stdout);
    }
  }

  fmt::print("\n{:<12} {:>14} {:>16} {:>14}\n", "variant", "build s (sum)", "build cpu (sum)", "train s (sum)");
  auto sum = [](const std::vector<double>& v) { return std::accumulate(v.begin(), v.end(), 0.0); };
  for (const auto& set : variants)
    fmt::print("{:<12} {:>14.1f} {:>16.1f} {:>14}\n", set, sum(builds[set]), sum(build_cpus[set]),
               no_train ? std::string("-") : fmt::format("{:.1f}", sum(trains[set])));
  fs::remove_all(work);
  return 0;
}
