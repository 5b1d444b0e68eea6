// bench/slurm_burst — how many grading jobs a Slurm cluster on this machine
// takes per second, and how long a job waits between sbatch and its start,
// for several slot counts, with the local backend beside it.
//
// For each slot count S it brings up a private single-node cluster with
// scripts/slurm-up --slots S, then:
//   * tiny jobs: N phase jobs through the Slurm backend at once (one thread
//     each, as the daemon does), each a shell that prints the time it
//     started: throughput (jobs/s over the whole burst) and submit-to-start
//     latency (from just before the backend's sbatch to the job's first
//     line: p50, p90, max). This is the scheduler's own cost.
//   * gradings (--gradings G): G real gradings of the regression reference
//     on 100 samples (stage, build from the cache, train and evaluate as
//     batch jobs, score): gradings per minute.
// The same N tiny jobs and G gradings go through the local backend with 1
// and 2 at once (what the daemon's --concurrency allows here).
//
// Usage: slurm_burst [--jobs N] [--slots 2,4,8,16] [--gradings G] [--source DIR]
//   defaults: 200 tiny jobs, slots 2,4,8,16, 16 gradings; run as root (the
//   test cluster needs it). The figures go to docs/benchmarks.md.
#include "base/hash.hpp"
#include "base/paths.hpp"
#include "base/process.hpp"
#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/backend/slurm_backend.hpp"
#include "grading/grader.hpp"
#include "support/stats.hpp"

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace torchexam;
using bench::percentile;
using SteadyClock = std::chrono::steady_clock;

namespace {

double epoch_now() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

struct Burst {
  double wall_s = 0;
  std::vector<double> latency_s;  // submit to start
  int failed = 0;
};

// N tiny phase jobs at once through `backend`, at most `parallel` at a time.
Burst tiny_jobs(Backend& backend, const fs::path& dir, int n, int parallel) {
  Burst b;
  std::mutex mu;
  std::atomic<int> next{0};
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < parallel; ++t)
    threads.emplace_back([&] {
      for (int i; (i = next++) < n;) {
        const fs::path out = dir / fmt::format("job{}", i);
        fs::create_directories(out);
        PhaseJob job;
        job.phase = "bench";
        job.process.exe = "/bin/sh";
        job.process.args = {"-c", "date +%s.%N"};
        job.process.stderr_file = out / "stderr";
        job.process.wall_timeout_s = 300;
        job.output_dirs = {out};
        std::string first;
        const double submitted = epoch_now();
        try {
          const ProcessResult r = backend.run(job, [&](std::string_view line) {
            if (first.empty()) first = line;
          });
          std::lock_guard lock(mu);
          if (r.exit_code != 0 || first.empty()) {
            ++b.failed;
            continue;
          }
          b.latency_s.push_back(std::stod(first) - submitted);
        } catch (const std::exception& e) {
          std::lock_guard lock(mu);
          ++b.failed;
          fmt::print(stderr, "job {}: {}\n", i, e.what());
        }
      }
    });
  for (auto& t : threads) t.join();
  b.wall_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
  return b;
}

// G gradings of the regression reference (100 samples) at once through `backend`.
std::pair<double, int> gradings(Backend& backend, const config::Environment& env, const fs::path& jobs, int g,
                                int parallel) {
  const auto* task = env.find_task("regression");
  std::atomic<int> next{0}, failed{0};
  const auto t0 = SteadyClock::now();
  std::vector<std::thread> threads;
  for (int t = 0; t < parallel; ++t)
    threads.emplace_back([&] {
      for (int i; (i = next++) < g;) {
        GradeRequest req;
        req.environment = &env;
        req.task = task;
        req.source = env.dir / "regression" / "reference.cpp";
        req.extra_options["limit"] = "100";
        req.job_dir = jobs / fmt::format("grade{}-{}", parallel, i);
        req.backend = &backend;
        GradeObserver quiet;
        const GradeResult r = grade(req, quiet);
        if (r.verdict != Verdict::ok) {
          ++failed;
          fmt::print(stderr, "grading {}: {} {}\n", i, to_string(r.verdict), r.message);
        }
      }
    });
  for (auto& t : threads) t.join();
  return {std::chrono::duration<double>(SteadyClock::now() - t0).count(), failed.load()};
}

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> out;
  std::stringstream in(s);
  for (std::string item; std::getline(in, item, ',');) out.push_back(std::stoi(item));
  return out;
}

void row(const std::string& name, int n, const Burst& b, double grade_wall, int g, int grade_failed) {
  fmt::print("{:<16} {:>6} {:>9.1f} {:>9.2f} {:>9.2f} {:>9.2f} {:>7} | {:>6} {:>12.1f} {:>7}\n", name, n,
             b.wall_s > 0 ? n / b.wall_s : 0, percentile(b.latency_s, 0.5), percentile(b.latency_s, 0.9),
             b.latency_s.empty() ? 0 : *std::max_element(b.latency_s.begin(), b.latency_s.end()), b.failed, g,
             grade_wall > 0 ? g / grade_wall * 60 : 0, grade_failed);
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int n = 200, g = 16;
  std::string slots_text = "2,4,8,16";
  fs::path source = BENCH_SOURCE_DIR;
  CLI::App app{"How many grading jobs a test Slurm cluster takes per second and how long they wait, beside the "
               "local backend. Run as root; brings up its own clusters with scripts/slurm-up."};
  app.add_option("--jobs", n, "tiny jobs per backend")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--slots", slots_text, "slot counts of the test clusters, comma-separated")->capture_default_str();
  app.add_option("--gradings", g, "real gradings (regression reference) per backend")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_option("--source", source, "the TorchExam source tree")->check(CLI::ExistingDirectory);
  CLI11_PARSE(app, argc, argv);
  if (geteuid() != 0) {
    fmt::print(stderr, "slurm_burst: the test cluster (scripts/slurm-up) needs root\n");
    return 2;
  }
  const fs::path root = fs::temp_directory_path() / fmt::format("torchexam-slurm-burst-{}", getpid());
  fs::create_directories(root);
  config::Environment env = config::load_environment(source / "environments/practice");

  fmt::print("slurm_burst: {} tiny jobs, {} gradings (regression reference, 100 samples); {} cores\n", n, g,
             std::thread::hardware_concurrency());
  fmt::print("{:<16} {:>6} {:>9} {:>9} {:>9} {:>9} {:>7} | {:>6} {:>12} {:>7}\n", "backend", "jobs", "jobs/s",
             "start p50", "start p90", "start max", "failed", "grades", "grades/min", "failed");

  {  // The local backend: 1 and 2 at once. "start" is fork to first line.
    BackendRegistry backends(system_launcher());
    gradings(backends.local(), env, root / "local-warm", 1, 1);  // the build cache, before timing
    for (int parallel : {1, 2}) {
      const Burst b = tiny_jobs(backends.local(), root / fmt::format("local{}", parallel), n, parallel);
      auto [wall, failed] = gradings(backends.local(), env, root / "local-jobs", g, parallel);
      row(fmt::format("local x{}", parallel), n, b, wall, g, failed);
    }
  }
  for (int slots : parse_list(slots_text)) {
    const fs::path cluster = root / fmt::format("cluster{}", slots);
    ProcessSpec up;
    up.exe = source / "scripts/slurm-up";
    up.args = {"--dir", cluster.string(), "--slots", std::to_string(slots), "--mem-mb", "20000"};
    up.stderr_file = root / "slurm-up.err";
    up.wall_timeout_s = 120;
    if (system_launcher().run(up, [](std::string_view) {}).exit_code != 0) {
      fmt::print(stderr, "slurm-up --slots {} failed:\n{}\n", slots, read_file(up.stderr_file));
      return 1;
    }
    config::Grading::Slurm cfg;
    cfg.shared_dir = root / fmt::format("shared{}", slots);
    cfg.conf = cluster / "etc/slurm.conf";
    cfg.poll_s = 0.25;
    cfg.max_jobs = n;
    fs::create_directories(cfg.shared_dir);
    {
      slurm::SlurmBackend backend(cfg, system_launcher());
      const Burst b = tiny_jobs(backend, cfg.shared_dir / "tiny", n, n);
      // The build cache is the shared folder's: build once before timing.
      gradings(backend, env, cfg.shared_dir / "warm", 1, 1);
      auto [wall, failed] = gradings(backend, env, cfg.shared_dir / "jobs", g, g);
      row(fmt::format("slurm {} slots", slots), n, b, wall, g, failed);
    }
    ProcessSpec down = up;
    down.exe = source / "scripts/slurm-down";
    down.args = {"--dir", cluster.string()};
    system_launcher().run(down, [](std::string_view) {});
  }
  std::error_code ec;
  fs::remove_all(root, ec);
  return 0;
}
