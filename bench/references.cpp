// bench/references — grades every task's reference solution of an
// environment in sequence and prints, per task, the training time, the
// metric and the score; with --threads 1,2 each task is graded with each
// thread count, side by side, to pick the faster default.
//
// Usage: references [--env DIR] [--threads 1,2] [--task ID]
// Target (issue 4): all five references 5/5 within 6 minutes of training in
// total on 2 cores.
#include "base/process.hpp"
#include "config/config.hpp"
#include "grading/backend/backend.hpp"
#include "grading/grader.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <sstream>

namespace fs = std::filesystem;
using namespace torchexam;

int main(int argc, char** argv) {
  fs::path env_dir = fs::path(BENCH_SOURCE_DIR) / "environments/practice";
  std::vector<int> thread_counts;
  std::string only;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--env") env_dir = argv[i + 1];
    else if (a == "--task") only = argv[i + 1];
    else if (a == "--threads") {
      std::stringstream s(argv[i + 1]);
      for (std::string t; std::getline(s, t, ',');) thread_counts.push_back(std::stoi(t));
    } else {
      fmt::print(stderr, "usage: references [--env DIR] [--threads 1,2] [--task ID]\n");
      return 2;
    }
  }
  const auto env = config::load_environment(env_dir);
  if (thread_counts.empty()) thread_counts.push_back(0);  // 0: each task's own setting
  const fs::path work = fs::temp_directory_path() / fmt::format("torchexam-references-{}", getpid());
  BackendRegistry backends(system_launcher());  // the environment's `grading:` backend, as the daemon picks it

  fmt::print("references: {} ({} tasks), thread counts:", env_dir.string(), env.tasks.size());
  for (int t : thread_counts) fmt::print(" {}", t == 0 ? std::string("task default") : std::to_string(t));
  fmt::print("\n{:<22} {:>7} {:>10} {:>12} {:>6} {:>9} {:>9}  {}\n", "task", "threads", "train s", "metric", "score",
             "build s", "eval s", "verdict");
  double total_train = 0;
  int fives = 0, graded = 0;
  for (const auto& task : env.tasks) {
    if (!only.empty() && task.id != only) continue;
    if (task.reference.empty()) {
      fmt::print("{:<22} (no reference)\n", task.id);
      continue;
    }
    for (int threads : thread_counts) {
      GradeRequest req;
      req.environment = &env;
      req.task = &task;
      req.source = task.reference;
      req.threads = threads;
      req.job_dir = work / fmt::format("{}-{}", task.id, threads);
      req.backends = &backends;
      GradeObserver quiet;
      const GradeResult r = grade(req, quiet);
      const int shown = threads > 0 ? threads : task.threads > 0 ? task.threads : env.threads;
      fmt::print("{:<22} {:>7} {:>10.1f} {:>12} {:>4}/5 {:>9.1f} {:>9.1f}  {}{}\n", task.id, shown, r.timings.train_s,
                 r.metric ? fmt::format("{:.4f}", *r.metric) : std::string("-"), r.score, r.timings.build_s,
                 r.timings.evaluate_s, to_string(r.verdict), r.verdict == Verdict::ok ? "" : ": " + r.message);
      std::fflush(stdout);
      if (threads == thread_counts.front()) {
        total_train += r.timings.train_s;
        fives += r.score == 5;
        ++graded;
      }
    }
  }
  fmt::print("{}: {}/{} references score 5; training {:.0f} s in total\n",
             thread_counts.front() == 0 ? std::string("default threads") : fmt::format("{} thread(s)", thread_counts.front()),
             fives, graded, total_train);
  fs::remove_all(work);
  return 0;
}
