#include "grading/runner_launch.hpp"

#include "base/hash.hpp"
#include "base/json_shape.hpp"
#include "base/paths.hpp"
#include "base/process.hpp"

#include <fmt/format.h>

#include <signal.h>
#include <string.h>

#include <algorithm>
#include <cstdlib>
#include <optional>

namespace torchexam {
namespace fs = std::filesystem;

std::map<std::string, std::string> runner_environment(int threads) {
  std::map<std::string, std::string> env{
      {"OMP_NUM_THREADS", std::to_string(threads)},
      // malloc keeps what LibTorch frees and gives it out again, instead
      // of returning it to the kernel and having every page of the next
      // tensor faulted in and zeroed: no heap trim below 2 GiB, and no
      // mmap for any size. The threshold alone (at most 32 MiB) leaves a
      // 1000-image batch's activations (100 MB for 32 channels of 28x28)
      // to mmap and munmap: fashion_mnist's evaluation spent 10 s of its
      // 25 CPU s in page faults (docs/benchmarks.md, "Evaluation memory").
      {"GLIBC_TUNABLES",
       "glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647:glibc.malloc.mmap_max=0"},
  };
  // A wait policy the harness was started with is the user's choice: it
  // reaches the runner unchanged (both names are on the sandbox's list).
  if (!std::getenv("GOMP_SPINCOUNT") && !std::getenv("OMP_WAIT_POLICY")) env["GOMP_SPINCOUNT"] = "10000";
  return env;
}

double runner_grace(double budget_s) { return std::clamp(budget_s * 0.1, 5.0, 30.0); }

namespace {

// How long after the runner's own deadline the harness kills its tree.
constexpr double kReaperMargin = 5;

std::string signal_text(int sig) {
  const char* abbrev = sigabbrev_np(sig);
  const char* desc = sigdescr_np(sig);
  return fmt::format("SIG{} ({})", abbrev ? abbrev : std::to_string(sig), desc ? desc : "unknown signal");
}

std::string tail(const std::string& s, size_t n) { return s.size() <= n ? s : "..." + s.substr(s.size() - n); }

// The supervisor's report (sandbox/containment.cpp, finish()): how the job
// ended, a fault on the trusted channel, and what its cgroup saw.
struct StatusExit {
  std::optional<int> code;
  std::optional<int> signal;
  double cpu_s = 0;
  int64_t max_rss_kb = 0;
  bool timed_out = false;
};

StatusExit tag_invoke(boost::json::value_to_tag<StatusExit>, const boost::json::value& v) {
  const json_shape::Object o(v);
  StatusExit e{o.optional<std::optional<int>>("code"), o.optional<std::optional<int>>("signal"),
               o.optional<double>("cpu_s"), o.optional<int64_t>("max_rss_kb"), o.optional<bool>("timed_out")};
  if (e.code.has_value() == e.signal.has_value())
    throw json_shape::ShapeError("", "exactly one of 'code' and 'signal' is required");
  return e;
}

struct StatusCgroup {
  bool oom_kill = false;
  bool pids_limit_hit = false;
  uint64_t memory_peak_bytes = 0;
  int64_t left_after_kill = 0;
};

StatusCgroup tag_invoke(boost::json::value_to_tag<StatusCgroup>, const boost::json::value& v) {
  const json_shape::Object o(v);
  return {o.optional<bool>("oom_kill"), o.optional<bool>("pids_limit_hit"), o.optional<uint64_t>("memory_peak_bytes"),
          o.optional<int64_t>("left_after_kill")};
}

struct Status {
  std::optional<StatusExit> exit;  // null when the supervisor saw no end of the job
  std::optional<std::string> harness_fault;
  StatusCgroup cgroup;  // all false and 0 without a job cgroup
};

Status tag_invoke(boost::json::value_to_tag<Status>, const boost::json::value& v) {
  const json_shape::Object o(v);
  return {o.optional<std::optional<StatusExit>>("exit"), o.optional<std::optional<std::string>>("harness_fault"),
          o.optional<StatusCgroup>("cgroup")};
}

// The supervisor's report (see ContainOptions::status_file); nullopt when
// there is none (the supervisor was killed at the deadline). It is written
// atomically, so one that does not read was not written by the supervisor:
// std::runtime_error naming the file and the field.
std::optional<Status> read_status(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  return json_shape::parse<Status>(read_file(file), "the sandbox's status file " + file.string());
}

}  // namespace

RunnerJob training_job(const StagedTask& staged, const config::TaskConfig& task, const fs::path& library,
                       const fs::path& workdir, int threads, double budget_s) {
  RunnerJob job;
  job.phase = RunnerJob::Phase::train;
  job.spec = staged.spec_file();
  job.inputs = staged.train_inputs();
  job.targets = staged.train_targets();
  job.solution = library;
  job.workdir = workdir;
  job.checkpoint = workdir / "checkpoint.pt";
  job.seed = task.seed;
  job.threads = threads;
  job.budget_s = budget_s;
  job.memory_bytes = task.memory_limit_bytes;
  return job;
}

RunnerOutcome launch_runner(const RunnerJob& job, const std::function<void(const events::Event&)>& on_event,
                            Backend& backend) {
  fs::create_directories(job.workdir);
  const bool train = job.phase == RunnerJob::Phase::train;
  const double wall = job.wall_timeout_s > 0 ? job.wall_timeout_s : job.budget_s + runner_grace(job.budget_s);
  const double cpu = job.cpu_seconds > 0 ? job.cpu_seconds : wall * job.threads + runner_grace(job.budget_s);

  ProcessSpec spec;
  spec.exe = paths::runner();
  spec.args = {train ? "train" : "evaluate", "--spec", job.spec.string(), "--inputs", job.inputs.string(),
               "--workdir", job.workdir.string(),
               "--threads", std::to_string(job.threads), "--seed", std::to_string(job.seed),
               "--deterministic", job.deterministic ? "true" : "false", "--cpu-seconds",
               std::to_string(static_cast<long long>(cpu))};
  if (job.memory_bytes > 0) spec.args.insert(spec.args.end(), {"--memory-bytes", std::to_string(job.memory_bytes)});
  spec.args.insert(spec.args.end(), {"--max-pids", std::to_string(job.max_pids)});
  // The runner's reaper kills the job at the deadline and still reports its
  // CPU time and memory; the harness kills the whole tree a little later if
  // the runner itself does not end.
  spec.args.insert(spec.args.end(), {"--wall-seconds", fmt::format("{:.3f}", wall)});
  // Beside the job's directory, not in it: the job cannot see or forge it.
  const fs::path status_file = job.workdir.parent_path() / (job.workdir.filename().string() + ".status.json");
  // A resumed phase (a cluster job the last daemon started) may have written
  // its report already: it is the one to read.
  std::error_code ignored;
  if (!job.resume) fs::remove(status_file, ignored);
  spec.args.insert(spec.args.end(), {"--status-file", status_file.string()});
  for (const auto& p : job.expose) spec.args.insert(spec.args.end(), {"--expose", p.string()});
  if (train) {
    spec.args.insert(spec.args.end(), {"--targets", job.targets.string(), "--solution", job.solution.string(),
                                       "--checkpoint", job.checkpoint.string(), "--budget",
                                       fmt::format("{:.3f}", job.budget_s)});
  } else if (!job.torchscript.empty()) {
    spec.args.insert(spec.args.end(), {"--torchscript", job.torchscript.string(), "--predictions", job.predictions.string()});
  } else {
    spec.args.insert(spec.args.end(), {"--solution", job.solution.string(), "--checkpoint", job.checkpoint.string(),
                                       "--predictions", job.predictions.string()});
  }
  spec.env = runner_environment(job.threads);
  spec.stderr_file = job.workdir / "runner.stderr";
  spec.wall_timeout_s = wall + kReaperMargin;
  spec.cancel = job.cancel;

  RunnerOutcome out;
  std::optional<events::Result> result;
  auto on_line = [&](std::string_view line) {
    std::string error;
    auto e = events::parse_line(line, &error);
    if (!e) {
      out.log.push_back("ignored a malformed event line (" + error + "): " + tail(std::string(line), 200));
      return;
    }
    // Candidate code can write results too: the one of highest precedence stands.
    if (auto* r = std::get_if<events::Result>(&*e); r && (!result || precedence(r->verdict) > precedence(result->verdict)))
      result = *r;
    if (auto* l = std::get_if<events::Log>(&*e)) out.log.push_back(l->message);
    if (auto* p = std::get_if<events::Platform>(&*e); p && !out.platform) out.platform = *p;
    if (auto* sb = std::get_if<events::Sandbox>(&*e)) {
      out.sandbox.layers = sb->layers;
      out.sandbox.notes = sb->notes;
    }
    on_event(*e);
  };
  PhaseJob phase_job;
  phase_job.process = spec;
  phase_job.phase = train ? "train" : "evaluate";
  phase_job.cpus = job.threads;
  phase_job.memory_bytes = job.memory_bytes;
  phase_job.output_dirs = {job.workdir.parent_path()};  // the workdir and the status file beside it
  phase_job.on_queued = job.on_queued;
  phase_job.resume = job.resume;
  ProcessResult pr = backend.run(phase_job, on_line);
  std::error_code status_ec;
  if (!pr.lost.empty() && !fs::is_regular_file(status_file, status_ec)) {
    // The launcher's helper died and took the job with it before the job
    // ended (no status report): nothing of it counts; it runs again, once.
    out.log.push_back(pr.lost + "; the phase runs again");
    result.reset();
    out.platform.reset();
    out.sandbox = {};
    pr = backend.run(phase_job, on_line);
  } else if (!pr.lost.empty()) {
    out.log.push_back(pr.lost + " after the job had ended; it is judged by the sandbox's status report");
  }
  out.wall_s = pr.wall_s;
  out.sandbox.limits = {wall, cpu, job.memory_bytes, job.max_pids};

  // The supervisor's report outranks the event stream's exit event, which
  // the candidate's code could have written.
  PhaseEvidence ev;
  ev.timed_out = pr.timed_out;
  ev.result = result;
  ev.cpu_limit_s = cpu;
  ev.oom_kill = pr.memory_exceeded;  // the scheduler's memory limit
  std::optional<Status> status;
  std::string unreadable_status;  // why the status file does not read
  try {
    status = read_status(status_file);
  } catch (const std::exception& e) {
    unreadable_status = e.what();
  }
  if (status) {
    if (const auto& x = status->exit) ev.exit = events::Exit{x->code, x->signal, x->cpu_s, x->max_rss_kb, x->timed_out};
    ev.harness_fault = status->harness_fault;
    ev.oom_kill = ev.oom_kill || status->cgroup.oom_kill;
    ev.pids_limit_hit = status->cgroup.pids_limit_hit;
    out.used.peak_memory_bytes = status->cgroup.memory_peak_bytes;
    if (status->cgroup.left_after_kill > 0)
      out.log.push_back(fmt::format("sandbox: {} process(es) still in the job's cgroup after the kill",
                                    status->cgroup.left_after_kill));
  } else {
    ev.contained = false;  // an `exit` event on the stream is then only a claim: not used
    if (pr.exit_code || pr.signal) ev.runner_exit = events::Exit{pr.exit_code, pr.signal, 0, 0, false};
  }
  if (ev.exit) {
    out.used.cpu_s = ev.exit->cpu_s;
    out.used.max_rss_kb = ev.exit->max_rss_kb;
  }
  // A cgroup counts only what was charged after the job joined it (on cgroup
  // v1, not the LibTorch pages the runner faulted in before): the larger of
  // that and the worker's peak resident size.
  out.used.peak_memory_bytes = std::max(out.used.peak_memory_bytes, static_cast<uint64_t>(out.used.max_rss_kb) * 1024);

  const char* phase = train ? "training" : "evaluation";
  if (pr.cancelled) {
    out.cancelled = true;
    out.verdict = Verdict::internal_error;
    out.message = std::string(phase) + " was cancelled";
    return out;
  }
  if (!unreadable_status.empty()) {
    // The harness's own file: nothing to judge the candidate by.
    out.verdict = Verdict::internal_error;
    out.message = fmt::format("{} ended, but {}", phase, unreadable_status);
    return out;
  }
  if (auto d = decide_verdict(ev, phase)) {
    out.verdict = d->verdict;
    out.message = d->message;
    out.detail = d->detail;
    if (d->verdict == Verdict::timeout && (pr.timed_out || (ev.exit && ev.exit->timed_out)))
      out.message = train ? fmt::format("training did not finish within its budget of {:.0f} s (+{:.0f} s grace); "
                                        "train for fewer epochs or a smaller model, and watch the ETA",
                                        job.budget_s, wall - job.budget_s)
                          : fmt::format("evaluation did not finish within {:.0f} s", wall);
    if (d->verdict == Verdict::memory_limit && ev.oom_kill && job.memory_bytes)
      out.message = fmt::format("{} used more than its memory limit of {:.1f} GiB and was stopped by the kernel; "
                                "use smaller batches or a smaller model",
                                phase, static_cast<double>(job.memory_bytes) / (1 << 30));
    return out;
  }
  std::string err;
  try {
    err = read_file(spec.stderr_file);
  } catch (const std::exception&) {
  }
  out.verdict = Verdict::internal_error;
  out.message = fmt::format("the runner ended without a result ({}): {}",
                            !pr.scheduler_note.empty() ? pr.scheduler_note
                            : !pr.lost.empty()         ? pr.lost
                            : pr.signal                ? "signal " + signal_text(*pr.signal)
                                                       : "exit code " + std::to_string(pr.exit_code.value_or(-1)),
                            tail(err, 2000));
  return out;
}

std::optional<Decision> decide_verdict(const PhaseEvidence& e, const std::string& phase) {
  // The trusted channel: the runner failed before candidate code was loaded.
  if (e.harness_fault)
    return Decision{Verdict::internal_error, fmt::format("the harness failed to set up {}: {}", phase, *e.harness_fault),
                    ""};
  if (!e.contained) {
    // No supervisor's report. Either the runner stopped before it contained
    // the job (no candidate code ran: its own result, if any, stands), or
    // something killed it.
    if (e.timed_out) return Decision{Verdict::timeout, phase + " did not finish in time", ""};
    if (e.oom_kill) return Decision{Verdict::memory_limit, phase + " used more than its memory limit", ""};
    if (e.runner_exit && e.runner_exit->signal)
      return Decision{Verdict::killed,
                      fmt::format("{} was killed by signal {} before the sandbox's supervisor could report (with "
                                  "process-group containment the job's own code can signal it)",
                                  phase, signal_text(*e.runner_exit->signal)),
                      ""};
    if (e.runner_exit && e.runner_exit->code == 0)
      return Decision{Verdict::internal_error,
                      phase + " ended without the sandbox supervisor's status report (it could not be written)", ""};
    if (e.result) return Decision{e.result->verdict, e.result->message, e.result->detail};
    return std::nullopt;
  }

  std::vector<Decision> found;
  if (e.timed_out || (e.exit && e.exit->timed_out))
    found.push_back({Verdict::timeout, phase + " did not finish in time", ""});
  if (e.oom_kill) found.push_back({Verdict::memory_limit, phase + " used more than its memory limit", ""});
  if (e.exit && e.exit->signal && !e.exit->timed_out) {
    const int sig = *e.exit->signal;
    if (sig == SIGSYS)
      found.push_back({Verdict::forbidden,
                       phase + " was stopped for a disallowed system call (ptrace, mount, namespaces, bpf and the "
                               "like are not available to exam code)",
                       ""});
    else if (sig == SIGXCPU || (sig == SIGKILL && e.cpu_limit_s > 0 && e.exit->cpu_s >= e.cpu_limit_s))
      found.push_back({Verdict::cpu_limit, fmt::format("{} used its whole CPU-time limit of {:.0f} s", phase,
                                                       e.cpu_limit_s),
                       ""});
    else if (sig == SIGXFSZ)
      found.push_back({Verdict::output_limit,
                       phase + " wrote more than the file-size limit allows (a log or file grew too large)", ""});
    else if (!(sig == SIGKILL && e.oom_kill))
      found.push_back({Verdict::killed, fmt::format("{} was killed by signal {}{}", phase, signal_text(sig),
                                                    e.pids_limit_hit ? " after reaching its process/thread limit" : ""),
                       ""});
  }
  if (e.result) {
    if (e.result->verdict == Verdict::internal_error)
      // Written after the trusted channel closed, so by the process that runs
      // the candidate's code: a claim about the solution, not the harness.
      found.push_back({Verdict::runtime_error,
                       fmt::format("{} reported an internal error from inside the job, where the solution's code runs "
                                   "(only the harness's trusted side can report its own faults): {}",
                                   phase, e.result->message),
                       e.result->detail});
    else
      found.push_back({e.result->verdict, e.result->message, e.result->detail});
  }
  if (e.exit && e.exit->code && *e.exit->code != 0)
    found.push_back({Verdict::runtime_error,
                     e.result ? fmt::format("{} ended with exit code {} (does the solution call exit()?)", phase,
                                            *e.exit->code)
                              : fmt::format("{} ended with exit code {} before reporting a result (does the solution "
                                            "call exit()?)",
                                            phase, *e.exit->code),
                     ""});
  if (e.result && e.result->verdict == Verdict::ok && !e.exit)
    // A success claimed without the reaper's report of how the job ended.
    found.push_back({Verdict::runtime_error,
                     fmt::format("{} reported success, but the sandbox saw no normal end of the job", phase), ""});
  if (!e.result && e.exit && e.exit->code == 0)
    found.push_back({Verdict::runtime_error,
                     fmt::format("{} ended with exit code 0 before reporting a result (does the solution call exit()?)",
                                 phase),
                     ""});
  if (found.empty()) return std::nullopt;
  // Highest precedence wins; among equals the first found (the more specific).
  return *std::max_element(found.begin(), found.end(), [](const Decision& a, const Decision& b) {
    return precedence(a.verdict) < precedence(b.verdict);
  });
}

}  // namespace torchexam
