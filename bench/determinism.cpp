// bench/determinism — what LibTorch's deterministic algorithms cost: every
// reference of an environment graded with them off and on, side by side in
// one run, each task's training throughput (the mean samples/s of its epoch
// reports), training seconds and metric.
//
// Usage: determinism [--env DIR] [--task ID] [--rounds N] [--fashion-limit N]
// Rounds alternate off, on, off, on, ... so that a drift of the machine's
// load falls on both; the figures are medians over the rounds. fashion_mnist
// trains on its first --fashion-limit images (default 6000, 0: all 60000);
// the other tasks' data sets are small and used whole.
#include "base/process.hpp"
#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/grader.hpp"
#include "support/stats.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace torchexam;
using bench::median;

namespace {

// The mean throughput of a training's epoch reports.
struct Throughput final : GradeObserver {
  double sum = 0;
  int epochs = 0;
  void event(const events::Event& e) override {
    if (auto* p = std::get_if<events::Progress>(&e); p && p->kind == events::Progress::Kind::epoch && p->samples_per_s > 0) {
      sum += p->samples_per_s;
      ++epochs;
    }
  }
  double mean() const { return epochs ? sum / epochs : 0; }
};

struct Side {
  std::vector<double> samples_per_s, train_s;
  std::vector<std::string> metrics;
  std::string problem;
};

}  // namespace

int main(int argc, char** argv) {
  fs::path env_dir = fs::path(BENCH_SOURCE_DIR) / "environments/practice";
  std::string only;
  int rounds = 1;
  long long fashion_limit = 6000;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--env") env_dir = argv[i + 1];
    else if (a == "--task") only = argv[i + 1];
    else if (a == "--rounds") rounds = std::max(1, std::stoi(argv[i + 1]));
    else if (a == "--fashion-limit") fashion_limit = std::stoll(argv[i + 1]);
    else {
      fmt::print(stderr, "usage: determinism [--env DIR] [--task ID] [--rounds N] [--fashion-limit N]\n");
      return 2;
    }
  }
  if (argc % 2 == 0) {
    fmt::print(stderr, "determinism: option {} needs a value\n", argv[argc - 1]);
    return 2;
  }
  const auto env = config::load_environment(env_dir);
  BackendRegistry backends(system_launcher());  // the environment's `grading:` backend, as the daemon picks it
  const fs::path work = fs::temp_directory_path() / fmt::format("torchexam-determinism-{}", getpid());
  fmt::print("determinism: {} ({} rounds, fashion_mnist on {} images)\n", env_dir.string(), rounds,
             fashion_limit > 0 ? std::to_string(fashion_limit) : std::string("all"));
  fmt::print("{:<22} {:>12} {:>12} {:>7} {:>9} {:>9}  {}\n", "task", "samples/s off", "samples/s on", "on/off",
             "train off", "train on", "metric off | on");
  for (const auto& task : env.tasks) {
    if (!only.empty() && task.id != only) continue;
    if (task.reference.empty()) continue;
    Side sides[2];  // off, on
    for (int round = 0; round < rounds; ++round)
      for (int k = 0; k < 2; ++k) {
        const bool on = (round % 2 == 0) ? k == 1 : k == 0;
        GradeRequest req;
        req.backends = &backends;
        req.environment = &env;
        req.task = &task;
        req.source = task.reference;
        req.deterministic = on;
        if (task.id == "fashion_mnist" && fashion_limit > 0) req.extra_options["limit"] = std::to_string(fashion_limit);
        req.job_dir = work / fmt::format("{}-{}-{}", task.id, round, on ? "on" : "off");
        Throughput seen;
        const GradeResult r = grade(req, seen);
        Side& side = sides[on ? 1 : 0];
        if (r.verdict != Verdict::ok) {
          side.problem = fmt::format("{}: {}", to_string(r.verdict), r.message);
          continue;
        }
        side.samples_per_s.push_back(seen.mean());
        side.train_s.push_back(r.timings.train_s);
        side.metrics.push_back(r.metric ? fmt::format("{:.6f}", *r.metric) : "-");
      }
    const double off = median(sides[0].samples_per_s), on = median(sides[1].samples_per_s);
    fmt::print("{:<22} {:>12.0f} {:>12.0f} {:>7.3f} {:>8.1f}s {:>8.1f}s  {} | {}{}{}\n", task.id, off, on,
               off > 0 ? on / off : 0.0, median(sides[0].train_s), median(sides[1].train_s),
               sides[0].metrics.empty() ? "-" : sides[0].metrics.front(),
               sides[1].metrics.empty() ? "-" : sides[1].metrics.front(),
               sides[0].problem.empty() ? "" : "  off failed: " + sides[0].problem,
               sides[1].problem.empty() ? "" : "  on failed: " + sides[1].problem);
    std::fflush(stdout);
  }
  fs::remove_all(work);
  return 0;
}
