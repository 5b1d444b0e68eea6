// torchexam-runner — runs one phase (train or evaluate) of a graded
// submission under the sandbox, reporting JSON-line events on stdout.
//
// Started by the harness (Boost.Process), never by candidates; or forked by
// the runner's own zygote mode (`torchexam-runner zygote`, zygote.hpp),
// whose child runs run_phase() below exactly as a fresh runner's main does.
// Order:
// parse arguments, keep stdout as the event pipe, contain the process tree,
// apply the set-up steps (limits, working directory, output redirection),
// then load LibTorch work. A failed step ends the run with internal_error
// naming the step and errno.
#include "sandbox/containment.hpp"
#include "sandbox/event_sink.hpp"
#include "sandbox/policy.hpp"
#include "sandbox/runner.hpp"
#include "sandbox/staged_task.hpp"
#include "sandbox/steps.hpp"
#include "sandbox/trusted_channel.hpp"
#include "sandbox/zygote.hpp"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <string_view>

namespace {

// One phase, from its command line to its exit code: what main runs in a
// fresh runner and in a zygote's child.
int run_phase(int argc, char** argv) {
  using namespace torchexam::sandbox;
  const auto started = std::chrono::steady_clock::now();
  CLI::App app{"torchexam-runner: one sandboxed train or evaluate phase (started by the harness)"};
  app.require_subcommand(1);
  RunnerOptions o;
  std::filesystem::path workdir;
  std::filesystem::path task_dir;
  Limits limits;
  rlim_t cpu_seconds = 0;
  uint64_t memory_bytes = 0;
  uint64_t max_pids = 512;
  uint64_t scratch_bytes = 256ull << 20;
  double wall_seconds = 0;
  std::filesystem::path status_file;
  std::vector<std::filesystem::path> expose_ro, expose_rw;

  // The task as the harness staged it (staged_task.hpp): a whole staged
  // directory, or its files one by one (what a mount namespace binds).
  auto common = [&](CLI::App* sub) {
    auto* dir = sub->add_option("--task-dir", task_dir, "staged task directory (task.json, train/, evaluate/)")
                    ->check(CLI::ExistingDirectory);
    sub->add_option("--spec", o.spec, "staged task.json (instead of --task-dir)")
        ->check(CLI::ExistingFile)
        ->excludes(dir);
    sub->add_option("--inputs", o.inputs, "staged inputs array file (instead of --task-dir)")
        ->check(CLI::ExistingFile)
        ->excludes(dir);
    sub->add_option("--workdir", workdir, "per-job working directory")->required()->check(CLI::ExistingDirectory);
    sub->add_option("--threads", o.threads, "LibTorch intra-op threads")->check(CLI::Range(1, 256));
    sub->add_option("--seed", o.seed, "seed for every generator");
    sub->add_option("--deterministic", o.deterministic,
                    "LibTorch's deterministic algorithms, warn-only (true or false; default true)");
    sub->add_option("--cpu-seconds", cpu_seconds, "RLIMIT_CPU (0: none)");
    sub->add_option("--max-files", limits.max_open_files, "RLIMIT_NOFILE");
    sub->add_option("--max-file-size", limits.max_file_size, "RLIMIT_FSIZE in bytes");
    sub->add_option("--memory-bytes", memory_bytes,
                    "memory limit in bytes (0: none): a memory cgroup when one can be made, else RLIMIT_AS");
    sub->add_option("--max-pids", max_pids, "processes and threads of the job (pids cgroup; 0: none)");
    sub->add_option("--scratch-bytes", scratch_bytes, "size of the job's /tmp (a tmpfs in the minimal root)");
    sub->add_option("--wall-seconds", wall_seconds,
                    "wall-clock seconds from the runner's start until the job is killed and reported as timed "
                    "out (0: none; the caller's own deadline applies)")
        ->check(CLI::NonNegativeNumber);
    sub->add_option("--status-file", status_file,
                    "where the supervisor writes its trusted report (outside what the job can see)");
    sub->add_option("--expose", expose_ro, "another path the job may read (repeatable)");
    sub->add_option("--expose-rw", expose_rw, "another path the job may write (repeatable)");
  };
  auto* train = app.add_subcommand("train", "train the candidate's model and write a checkpoint");
  common(train);
  train->add_option("--targets", o.targets, "staged training targets array file (instead of --task-dir)")
      ->check(CLI::ExistingFile)
      ->excludes("--task-dir");
  train->add_option("--solution", o.solution, "candidate's built library")->required()->check(CLI::ExistingFile);
  train->add_option("--checkpoint", o.checkpoint, "where to write the trained weights")->required();
  train->add_option("--budget", o.budget_s, "training budget in seconds, as the candidate sees it");

  auto* evaluate = app.add_subcommand("evaluate", "predict the hidden test inputs");
  common(evaluate);
  auto* sol = evaluate->add_option("--solution", o.solution, "candidate's built library")->check(CLI::ExistingFile);
  auto* ts = evaluate->add_option("--torchscript", o.torchscript, "a TorchScript model instead")->check(CLI::ExistingFile);
  sol->excludes(ts);
  evaluate->add_option("--checkpoint", o.checkpoint, "trained weights (with --solution)")->check(CLI::ExistingFile);
  evaluate->add_option("--predictions", o.predictions, "where to write the predictions")->required();

  CLI11_PARSE(app, argc, argv);
  if (evaluate->parsed() && o.solution.empty() == o.torchscript.empty()) {
    std::fprintf(stderr, "evaluate needs exactly one of --solution (with --checkpoint) and --torchscript\n");
    return 2;
  }
  if (evaluate->parsed() && !o.solution.empty() && o.checkpoint.empty()) {
    std::fprintf(stderr, "evaluate --solution needs --checkpoint\n");
    return 2;
  }
  if (!task_dir.empty()) {
    namespace staged = torchexam::sandbox::staged;
    o.spec = task_dir / staged::kSpec;
    o.inputs = task_dir / (train->parsed() ? staged::kTrainInputs : staged::kEvaluateInputs);
    if (train->parsed()) o.targets = task_dir / staged::kTrainTargets;
  }
  if (o.spec.empty() || o.inputs.empty() || (train->parsed() && o.targets.empty())) {
    std::fprintf(stderr, "%s needs --task-dir, or --spec and --inputs%s\n", train->parsed() ? "train" : "evaluate",
                 train->parsed() ? " and --targets" : "");
    return 2;
  }
  // Paths given relative to the caller stay valid after chdir.
  for (auto* p : {&o.spec, &o.inputs, &o.targets, &o.solution, &o.torchscript, &o.checkpoint, &o.predictions})
    if (!p->empty()) *p = std::filesystem::absolute(*p);
  workdir = std::filesystem::absolute(workdir);

  // The event pipe is the original stdout, kept on a descriptor of its own;
  // stdout/stderr then go to the job's log so candidate output never mixes in.
  const int event_fd = fcntl(STDOUT_FILENO, F_DUPFD_CLOEXEC, 10);
  if (event_fd < 0) {
    std::perror("torchexam-runner: dup of the event pipe");
    return 1;
  }
  EventSink sink(event_fd);
  // The checkpoint comes from the training job: a symbolic link there would
  // have this runner expose (and the model loader read) a file of the host.
  std::error_code lec;
  if (evaluate->parsed() && !o.checkpoint.empty() && std::filesystem::is_symlink(o.checkpoint, lec)) {
    sink.result(torchexam::Verdict::forbidden,
                "the checkpoint left by training is a symbolic link (" + o.checkpoint.string() +
                    "); the trained weights must be a regular file");
    return 1;
  }
  if (auto err = run_steps({close_inherited_fds(event_fd)})) {
    sink.result(torchexam::Verdict::internal_error, err->message());
    return 1;
  }

  // A task whose test samples must reach the model in order, a few at a
  // time: its staged inputs never enter the job's view; a feeder outside the
  // candidate's reach serves them (sequence_feeder.hpp).
  if (evaluate->parsed()) {
    try {
      const TaskSpec staged_spec = read_task_spec(o.spec);
      if (staged_spec.evaluation.in_order && staged_spec.evaluation.max_batch > 0) {
        // Above the standard descriptors: stdin may be closed here, and the
        // set-up steps point 0-2 elsewhere.
        const int fd = open(o.inputs.c_str(), O_RDONLY | O_CLOEXEC);
        o.inputs_fd = fd < 0 ? -1 : fcntl(fd, F_DUPFD_CLOEXEC, 10);
        if (fd >= 0) close(fd);
        if (o.inputs_fd < 0) {
          sink.result(torchexam::Verdict::internal_error, "cannot open the staged test inputs " + o.inputs.string() +
                                                              ": " + std::strerror(errno));
          return 1;
        }
      }
    } catch (const StagedTaskError& e) {
      sink.result(torchexam::Verdict::internal_error, e.what());
      return 1;
    }
  }

  ContainOptions copts;
  copts.cgroup = {memory_bytes, max_pids};
  if (!status_file.empty()) copts.status_file = std::filesystem::absolute(status_file);
  if (wall_seconds > 0)
    copts.wall_seconds = std::max(
        0.001, wall_seconds - std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
  const Contained contained = contain(event_fd, copts);  // forks; returns in the worker
  // Until the candidate's code is loaded, the harness's own faults also go
  // to the supervisor, which alone the harness believes (trusted_channel.hpp).
  TrustedChannel trusted(contained.trusted_fd);

  // What the job may see: its directory (read-write), the candidate's
  // library, the checkpoint or model it evaluates, the staged task files of
  // this phase (never the plugin or the data set: harness/grading/staging.hpp), and
  // whatever the harness adds.
  JobPolicy policy;
  policy.workdir = workdir;
  policy.output_log = workdir / "output.log";
  policy.view.scratch_bytes = scratch_bytes;
  policy.view.exposed.push_back({workdir, true});
  for (const auto* p : {&o.spec, &o.inputs, &o.targets, &o.solution, &o.torchscript})
    if (!p->empty() && !(p == &o.inputs && o.inputs_fd >= 0)) policy.view.exposed.push_back({*p, false});
  if (!o.checkpoint.empty() && evaluate->parsed()) policy.view.exposed.push_back({o.checkpoint, false});
  if (!o.predictions.empty() && o.predictions.parent_path() != workdir)
    policy.view.exposed.push_back({o.predictions.parent_path(), true});
  if (!o.checkpoint.empty() && train->parsed() && o.checkpoint.parent_path() != workdir)
    policy.view.exposed.push_back({o.checkpoint.parent_path(), true});
  for (const auto& p : expose_ro) policy.view.exposed.push_back({std::filesystem::absolute(p), false});
  for (const auto& p : expose_rw) policy.view.exposed.push_back({std::filesystem::absolute(p), true});
  limits.cpu_seconds = cpu_seconds;
  policy.limits = limits;
  policy.memory_bytes = memory_bytes;
  policy.memory_cgroup = contained.cgroup_memory;

  LayerReport layers = apply_layers(policy);
  if (layers.error) {
    trusted.harness_fault(layers.error->message());
    sink.result(torchexam::Verdict::internal_error, layers.error->message());
    return 1;
  }
  torchexam::events::Sandbox report;
  if (contained.how != Containment::process_group) report.layers.push_back("pid_namespace");
  if (contained.how == Containment::user_pid_namespace) report.layers.push_back("user_namespace");
  if (contained.cgroup_memory) report.layers.push_back("cgroup_memory");
  if (contained.cgroup_pids) report.layers.push_back("cgroup_pids");
  report.layers.insert(report.layers.end(), layers.layers.begin(), layers.layers.end());
  if (!contained.note.empty()) report.notes.push_back(contained.note);
  report.notes.insert(report.notes.end(), contained.cgroup_notes.begin(), contained.cgroup_notes.end());
  report.notes.insert(report.notes.end(), layers.notes.begin(), layers.notes.end());
  sink.emit(report);
  std::string line = "sandbox:";
  for (const auto& l : report.layers) line += " " + l;
  for (const auto& n : report.notes) line += "; " + n;
  sink.log(line);
  return train->parsed() ? run_train(o, sink, trusted) : run_evaluate(o, sink, trusted);
}

// run_phase(), then the end of the process without the static destructors:
// output flushed, nothing else to do. LibTorch's destructors free its
// registries at exit, and in a forked process (the job's worker, a
// zygote's child) each page they write is first copied: seconds under load
// for a process that is ending anyway. Sanitizer builds exit normally (the
// leak check runs at exit).
int run_and_end(int argc, char** argv) {
  const int code = run_phase(argc, argv);
#if defined(__SANITIZE_ADDRESS__)
  std::exit(code);
#else
  std::fflush(nullptr);
  std::_Exit(code);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  if (argc > 1 && std::string_view(argv[1]) == "zygote")
    return torchexam::sandbox::zygote_main(argc - 1, argv + 1, run_and_end);
  return run_and_end(argc, argv);
}
