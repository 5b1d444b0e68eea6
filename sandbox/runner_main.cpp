// torchexam-runner — runs one phase (train or evaluate) of a graded
// submission under the sandbox, reporting JSON-line events on stdout.
//
// Started by the harness (Boost.Process), never by candidates. Order:
// parse arguments, keep stdout as the event pipe, contain the process tree,
// apply the set-up steps (limits, working directory, output redirection),
// then load LibTorch work. A failed step ends the run with internal_error
// naming the step and errno.
#include "containment.hpp"
#include "event_sink.hpp"
#include "runner.hpp"
#include "steps.hpp"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <unistd.h>

int main(int argc, char** argv) {
  using namespace torchexam::sandbox;
  CLI::App app{"torchexam-runner: one sandboxed train or evaluate phase (started by the harness)"};
  app.require_subcommand(1);
  RunnerOptions o;
  std::filesystem::path workdir;
  std::vector<std::string> option_pairs;
  Limits limits;
  rlim_t cpu_seconds = 0;

  auto common = [&](CLI::App* sub) {
    sub->add_option("--plugin", o.plugin, "task plugin (.so)")->required()->check(CLI::ExistingFile);
    sub->add_option("--option", option_pairs, "plugin option KEY=VALUE (repeatable)");
    sub->add_option("--workdir", workdir, "per-job working directory")->required()->check(CLI::ExistingDirectory);
    sub->add_option("--threads", o.threads, "LibTorch intra-op threads")->check(CLI::Range(1, 256));
    sub->add_option("--seed", o.seed, "seed for every generator");
    sub->add_option("--cpu-seconds", cpu_seconds, "RLIMIT_CPU (0: none)");
    sub->add_option("--max-files", limits.max_open_files, "RLIMIT_NOFILE");
    sub->add_option("--max-file-size", limits.max_file_size, "RLIMIT_FSIZE in bytes");
    sub->add_option("--memory-bytes", limits.address_space, "RLIMIT_AS in bytes (0: none)");
  };
  auto* train = app.add_subcommand("train", "train the candidate's model and write a checkpoint");
  common(train);
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
  for (const auto& kv : option_pairs) {
    auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "--option '%s' must be KEY=VALUE\n", kv.c_str());
      return 2;
    }
    o.plugin_options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  // Paths given relative to the caller stay valid after chdir.
  for (auto* p : {&o.plugin, &o.solution, &o.torchscript, &o.checkpoint, &o.predictions})
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
  if (auto err = run_steps({close_inherited_fds(event_fd)})) {
    sink.result(torchexam::Verdict::internal_error, err->message());
    return 1;
  }

  const Contained contained = contain(event_fd);  // forks; returns in the worker
  limits.cpu_seconds = cpu_seconds;
  std::vector<Step> steps = limit_steps(limits);
  steps.push_back(enter_workdir(workdir));
  steps.push_back(redirect_output(workdir / "output.log"));
  if (auto err = run_steps(steps)) {
    sink.result(torchexam::Verdict::internal_error, err->message());
    return 1;
  }
  sink.log(std::string("sandbox: ") + to_string(contained.how) +
           (contained.note.empty() ? "" : " (" + contained.note + ")"));
  return train->parsed() ? run_train(o, sink) : run_evaluate(o, sink);
}
