#include "runner_launch.hpp"

#include "hash.hpp"
#include "paths.hpp"
#include "process.hpp"

#include <fmt/format.h>

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <optional>

namespace torchexam {
namespace fs = std::filesystem;

std::map<std::string, std::string> runner_environment(int threads) {
  return {
      {"OMP_NUM_THREADS", std::to_string(threads)},
      {"GLIBC_TUNABLES", "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647"},
  };
}

double runner_grace(double budget_s) { return std::clamp(budget_s * 0.1, 5.0, 30.0); }

namespace {

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* desc = sigdescr_np(sig);
  return fmt::format("SIG{} ({})", abbrev ? abbrev : std::to_string(sig), desc ? desc : "unknown signal");
}

std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

}  // namespace

RunnerOutcome launch_runner(const RunnerJob& job, const std::function<void(const events::Event&)>& on_event) {
  fs::create_directories(job.workdir);
  const bool train = job.phase == RunnerJob::Phase::train;
  const double wall = job.wall_timeout_s > 0 ? job.wall_timeout_s : job.budget_s + runner_grace(job.budget_s);
  const double cpu = job.cpu_seconds > 0 ? job.cpu_seconds : wall * job.threads + runner_grace(job.budget_s);

  ProcessSpec spec;
  spec.exe = paths::runner();
  spec.args = {train ? "train" : "evaluate", "--plugin", job.plugin.string(), "--workdir", job.workdir.string(),
               "--threads", std::to_string(job.threads), "--seed", std::to_string(job.seed), "--cpu-seconds",
               std::to_string(static_cast<long long>(cpu))};
  if (job.memory_bytes > 0) spec.args.insert(spec.args.end(), {"--memory-bytes", std::to_string(job.memory_bytes)});
  for (const auto& [k, v] : job.plugin_options) spec.args.insert(spec.args.end(), {"--option", k + "=" + v});
  if (train) {
    spec.args.insert(spec.args.end(), {"--solution", job.solution.string(), "--checkpoint", job.checkpoint.string(),
                                       "--budget", fmt::format("{:.3f}", job.budget_s)});
  } else if (!job.torchscript.empty()) {
    spec.args.insert(spec.args.end(), {"--torchscript", job.torchscript.string(), "--predictions", job.predictions.string()});
  } else {
    spec.args.insert(spec.args.end(), {"--solution", job.solution.string(), "--checkpoint", job.checkpoint.string(),
                                       "--predictions", job.predictions.string()});
  }
  spec.env = runner_environment(job.threads);
  spec.stderr_file = job.workdir / "runner.stderr";
  spec.wall_timeout_s = wall;
  spec.cancel = job.cancel;

  RunnerOutcome out;
  std::optional<events::Result> result;
  std::optional<events::Exit> exit;
  auto on_line = [&](std::string_view line) {
    std::string error;
    auto e = events::parse_line(line, &error);
    if (!e) {
      out.log.push_back("ignored a malformed event line (" + error + "): " + tail(std::string(line), 200));
      return;
    }
    if (auto* r = std::get_if<events::Result>(&*e); r && !result) result = *r;
    if (auto* x = std::get_if<events::Exit>(&*e)) exit = *x;
    if (auto* l = std::get_if<events::Log>(&*e)) out.log.push_back(l->message);
    on_event(*e);
  };
  ProcessResult pr = run_process(spec, on_line);
  out.wall_s = pr.wall_s;
  if (exit) {
    out.cpu_s = exit->cpu_s;
    out.max_rss_kb = exit->max_rss_kb;
  }

  const char* phase = train ? "training" : "evaluation";
  if (pr.cancelled) {
    out.cancelled = true;
    out.verdict = Verdict::internal_error;
    out.message = std::string(phase) + " was cancelled";
  } else if (pr.timed_out) {
    out.verdict = Verdict::timeout;
    out.message = train ? fmt::format("training did not finish within its budget of {:.0f} s (+{:.0f} s grace); "
                                      "train for fewer epochs or a smaller model, and watch the ETA",
                                      job.budget_s, wall - job.budget_s)
                        : fmt::format("evaluation did not finish within {:.0f} s", wall);
  } else if (result) {
    out.verdict = result->verdict;
    out.message = result->message;
    out.detail = result->detail;
  } else if (exit && exit->signal) {
    const int sig = *exit->signal;
    if (sig == SIGXCPU || (sig == SIGKILL && exit->cpu_s >= cpu)) {
      out.verdict = Verdict::timeout;
      out.message = fmt::format("{} used its whole CPU-time limit of {:.0f} s", phase, cpu);
    } else if (sig == SIGSYS) {
      out.verdict = Verdict::forbidden;
      out.message = fmt::format("{} was stopped for a disallowed system call", phase);
    } else {
      out.verdict = Verdict::killed;
      out.message = fmt::format("{} was killed by signal {}", phase, signal_text(sig));
    }
  } else if (exit && exit->code) {
    out.verdict = Verdict::runtime_error;
    out.message = fmt::format("{} ended with exit code {} before reporting a result (does the solution call exit()?)",
                              phase, *exit->code);
  } else {
    std::string err;
    try {
      err = read_file(spec.stderr_file);
    } catch (const std::exception&) {
    }
    out.verdict = Verdict::internal_error;
    out.message = fmt::format("the runner ended without a result ({}): {}",
                              pr.signal ? "signal " + signal_text(*pr.signal)
                                        : "exit code " + std::to_string(pr.exit_code.value_or(-1)),
                              tail(err, 2000));
  }
  return out;
}

}  // namespace torchexam
