#include "cli/calibrate_command.hpp"

#include "base/hash.hpp"
#include "base/paths.hpp"
#include "cli/progress.hpp"
#include "config/config.hpp"
#include "config/ladder_edit.hpp"
#include "grading/calibration.hpp"
#include "grading/grader.hpp"
#include "grading/job_dirs.hpp"
#include "grading/repeat.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <filesystem>

namespace torchexam::cli {

namespace fs = std::filesystem;

namespace {

std::string today_utc() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char text[16];
  std::strftime(text, sizeof text, "%Y-%m-%d", &tm);
  return text;
}

std::string label_of(const fs::path& source, const config::TaskConfig& task) {
  const auto relative = source.lexically_relative(task.dir);
  return !relative.empty() && relative.native().rfind("..", 0) != 0 ? relative.string() : source.string();
}

}  // namespace

CalibrateCommand::CalibrateCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("calibrate",
                            "grade a task's reference, starter and candidates over several seeds and propose a "
                            "threshold ladder (reference 5 on every seed, starter at most 1)");
  cmd_->add_option("ENV_DIR", env_, "exam environment: its folder or the name of an installed one")->required();
  cmd_->add_option("TASK", task_, "task id")->required();
  cmd_->add_option("--seeds", seeds_, "seeds to grade each source with: the task's seed and the next N-1 (default 5)")
      ->check(CLI::Range(1, 50));
  cmd_->add_option("--candidate", candidates_,
                   "another solution to grade and place on the ladder (a weak one, say); repeatable")
      ->check(CLI::ExistingFile);
  cmd_->add_flag("--write", write_,
                 "replace task.yaml's ladder and its calibration comment with the proposal (the rest of the file "
                 "is kept)");
  cmd_->add_flag("--local", local_, "grade here, even when the environment grades on a cluster (grading.backend)");
}

std::optional<int> CalibrateCommand::run() {
  if (!cmd_->parsed()) return std::nullopt;
  config::Environment env;
  try {
    env = config::load_environment(paths::environment_dir(env_));
  } catch (const config::ConfigError& e) {
    fmt::print(stderr, "torchexam calibrate: the exam environment has errors:\n{}\n", e.what());
    return 2;
  } catch (const std::runtime_error& e) {
    fmt::print(stderr, "torchexam calibrate: {}\n", e.what());
    return 2;
  }
  const config::TaskConfig* task = env.find_task(task_);
  if (!task) {
    fmt::print(stderr, "torchexam calibrate: {}\n", env.unknown_task(task_, env_));
    return 2;
  }
  const fs::path task_yaml = task->dir / "task.yaml";
  if (task->reference.empty()) {
    fmt::print(stderr,
               "torchexam calibrate: task '{}' has no reference solution: add `reference: reference.cpp` (a solution "
               "that should score 5) to {}\n",
               task->id, task_yaml.string());
    return 2;
  }
  std::string original;
  if (write_) {
    original = read_file(task_yaml);
    if (access(task_yaml.c_str(), W_OK) != 0 || access(task->dir.c_str(), W_OK) != 0) {
      fmt::print(stderr, "torchexam calibrate: --write: {} (or its folder) is not writable; nothing was graded\n",
                 task_yaml.string());
      return 2;
    }
  }

  std::vector<std::optional<uint64_t>> seed_runs;
  std::vector<uint64_t> seeds;
  for (int i = 0; i < seeds_; ++i) {
    seeds.push_back(task->seed + static_cast<uint64_t>(i));
    seed_runs.emplace_back(seeds.back());
  }
  BackendRegistry backends(system_launcher());
  GradeRequest req;
  req.environment = &env;
  req.task = task;
  req.backends = &backends;
  if (local_) req.backend = &backends.local();

  struct Source {
    std::string role;
    fs::path path;
  };
  std::vector<Source> sources{{"reference", task->reference}, {"starter", task->starter}};
  for (const auto& c : candidates_) sources.push_back({"candidate", fs::absolute(c)});

  std::vector<CalibrationRuns> graded;
  bool harness_failed = false;
  for (const auto& source : sources) {
    req.source = source.path;
    CalibrationRuns runs;
    runs.label = label_of(source.path, *task);
    const RepeatRuns r = grade_repeatedly(req, seed_runs, [&](size_t i) -> std::unique_ptr<GradeObserver> {
      fmt::print(stderr, "{} {}: seed {} ({}/{})\n", source.role, runs.label, seeds[i], i + 1, seeds.size());
      return std::make_unique<ProgressPrinter>();
    });
    for (const auto& g : r.runs) {
      runs.metric.push_back(g.metric);  // a timeout scored from its checkpoint has one too
      runs.verdict.emplace_back(to_string(g.verdict));
      if (g.verdict == Verdict::internal_error && !harness_failed) {
        harness_failed = true;
        fmt::print(stderr, "torchexam calibrate: {} {}: the harness failed: {}{}\n", source.role, runs.label, g.message,
                   g.message.find("no task plugin named") != std::string::npos
                       ? "\n(a plugin built outside TorchExam's tree: put its build's plugins/ folder in "
                         "TORCHEXAM_PLUGIN_PATH)"
                       : "");
      }
    }
    graded.push_back(std::move(runs));
    if (harness_failed) break;  // the other sources would fail the same way
  }
  prune_job_dirs(paths::state_dir() / "jobs", std::max(kKeepJobDirs, sources.size() * seeds.size()), is_grade_job_dir);
  if (harness_failed) return 3;

  const bool higher = task->ladder.higher_is_better;
  fmt::print("calibration of {} ({}, {} is better) over seeds {}:\n", task->id, task->metric, higher ? "higher" : "lower",
             fmt::join(seeds, ", "));
  for (size_t i = 0; i < sources.size(); ++i) {
    std::vector<int> now;
    for (const auto& m : graded[i].metric) now.push_back(m ? task->ladder.score(*m) : 0);
    fmt::print("  {:<9} {}: {}\n            verdicts {}; scores under the current ladder [{}]: {}\n", sources[i].role,
               graded[i].label, metric_spread_text(task->metric, graded[i]), fmt::join(graded[i].verdict, ", "),
               fmt::join(task->ladder.thresholds, ", "), fmt::join(now, ", "));
  }
  const std::vector<CalibrationRuns> candidates(graded.begin() + 2, graded.end());
  const LadderProposal proposal = propose_ladder(higher, seeds, graded[0], graded[1], candidates);
  std::fflush(stdout);  // the table before any message on stderr, also when both go to one file
  if (!proposal.ok) {
    fmt::print(stderr, "torchexam calibrate: {}\n", proposal.problem);
    if (write_) fmt::print(stderr, "{} was left unchanged\n", task_yaml.string());
    return 1;
  }
  fmt::print("proposed ladder: [{}]  (margin {:.4g}: the reference's worst seed clears score 5 by it, the starter's "
             "best falls short of score 1 by it)\n",
             fmt::join(proposal.written, ", "), proposal.margin);
  for (const auto& place : proposal.placements)
    fmt::print("  {:<9} {}: scores {}\n", place.role, place.label, fmt::join(place.scores, ", "));
  if (!write_) {
    fmt::print("write it with: torchexam calibrate {} {} --seeds {} --write\n", env_, task->id, seeds_);
    return 0;
  }

  try {
    const std::string updated = config::replace_ladder(
        original, proposal.written, calibration_comment(task->metric, seeds, proposal, graded, today_utc()));
    if (read_file(task_yaml) != original) {
      fmt::print(stderr, "torchexam calibrate: {} changed while calibrating; it was left as it is now. Calibrate again\n",
                 task_yaml.string());
      return 1;
    }
    write_file_atomically(task_yaml, updated, Durability::synced);
    try {
      const config::Environment again = config::load_environment(env.dir);
      (void)again;
    } catch (const config::ConfigError& e) {
      write_file_atomically(task_yaml, original, Durability::synced);
      fmt::print(stderr, "torchexam calibrate: the rewritten task.yaml did not load, so it was put back:\n{}\n", e.what());
      return 3;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam calibrate: --write: {}; {} was left unchanged\n", e.what(), task_yaml.string());
    return 3;
  }
  fmt::print("wrote the ladder and its calibration comment to {}\n", task_yaml.string());
  return 0;
}

}  // namespace torchexam::cli
