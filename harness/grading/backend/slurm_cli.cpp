#include "grading/backend/slurm_cli.hpp"

#include "base/hash.hpp"
#include "base/json_shape.hpp"
#include "base/process.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <thread>

namespace torchexam::slurm {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kFinal[] = {"COMPLETED", "FAILED",   "TIMEOUT",   "OUT_OF_MEMORY", "CANCELLED",
                                       "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"};

// squeue's JSON, read through json_shape: a field of a shape neither
// release writes is a SlurmError naming it ("jobs[2].priority: ...").

// A number: 22.05 writes it plain; 23.02+ as {"set": bool, "infinite":
// bool, "number": n}, where an unset one has no value.
struct SlurmNumber {
  std::optional<int64_t> value;
};

SlurmNumber tag_invoke(json::value_to_tag<SlurmNumber>, const json::value& v) {
  if (v.is_int64()) return {v.get_int64()};
  if (v.is_uint64()) return {static_cast<int64_t>(std::min<uint64_t>(v.get_uint64(), INT64_MAX))};
  if (v.is_double() && std::isfinite(v.get_double())) return {static_cast<int64_t>(v.get_double())};
  if (!v.is_object()) throw json_shape::ShapeError("", "expected a number or {\"set\", \"number\"}");
  const json_shape::Object o(v);
  if (!o.optional<bool>("set", true)) return {};
  return o.optional<SlurmNumber>("number");
}

// A job state: 22.05 a string; 23.02+ a list of flags, the base state first.
struct SlurmState {
  std::string base;
};

SlurmState tag_invoke(json::value_to_tag<SlurmState>, const json::value& v) {
  if (v.is_string()) return {std::string(v.get_string())};
  if (!v.is_array()) throw json_shape::ShapeError("", "expected a string or a list of strings");
  const auto flags = json_shape::read<std::vector<std::string>>(v);
  return {flags.empty() ? std::string() : flags.front()};
}

// exit_code: 22.05 writes the raw wait status (768 for `exit 3`, 9 for
// SIGKILL); 23.02+ {"status": [...], "return_code": n}. A signal has no code.
struct SlurmExitCode {
  std::optional<int> code;
};

SlurmExitCode tag_invoke(json::value_to_tag<SlurmExitCode>, const json::value& v) {
  if (v.is_object()) {
    const json_shape::Object o(v);
    if (auto n = o.optional<SlurmNumber>("return_code").value) return {static_cast<int>(*n)};
    if (o.has("number")) return {static_cast<int>(json_shape::read<SlurmNumber>(v).value.value_or(0))};
    return {};
  }
  const auto n = json_shape::read<SlurmNumber>(v).value;
  if (!n) return {};
  const int status = static_cast<int>(*n);
  if ((status & 0x7f) != 0) return {};  // killed by a signal
  return {(status >> 8) & 0xff};
}

// One entry of "jobs"; id 0 when squeue gives none (the entry is skipped).
struct SqueueJob {
  JobInfo info;
};

SqueueJob tag_invoke(json::value_to_tag<SqueueJob>, const json::value& v) {
  const json_shape::Object o(v);
  SqueueJob j;
  JobInfo& info = j.info;
  if (!o.has("job_id")) throw json_shape::ShapeError(".job_id", "missing (a number is required)");
  info.id = o.optional<SlurmNumber>("job_id").value.value_or(0);
  info.name = o.optional<std::string>("name");
  info.state = o.optional<SlurmState>("job_state").base;
  info.reason = o.optional<SlurmState>("state_reason").base;
  info.partition = o.optional<std::string>("partition");
  info.priority = o.optional<SlurmNumber>("priority").value.value_or(0);
  info.submit_time = o.optional<SlurmNumber>("submit_time").value.value_or(0);
  info.start_time = o.optional<SlurmNumber>("start_time").value.value_or(0);
  info.end_time = o.optional<SlurmNumber>("end_time").value.value_or(0);
  info.exit_code = o.optional<SlurmExitCode>("exit_code").code;
  info.restarts = static_cast<int>(o.optional<SlurmNumber>("restart_cnt").value.value_or(0));
  return j;
}

struct SqueueOutput {
  std::vector<SqueueJob> jobs;
};

SqueueOutput tag_invoke(json::value_to_tag<SqueueOutput>, const json::value& v) {
  return {json_shape::Object(v).required<std::vector<SqueueJob>>("jobs")};
}

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s;
}

}  // namespace

bool is_final(std::string_view state) {
  return std::find(std::begin(kFinal), std::end(kFinal), state) != std::end(kFinal);
}

std::vector<JobInfo> parse_squeue_json(std::string_view text) {
  SqueueOutput parsed;
  try {
    parsed = json_shape::parse<SqueueOutput>(text, "squeue --json");
  } catch (const std::runtime_error& e) {
    throw SlurmError(e.what());
  }
  std::vector<JobInfo> out;
  for (auto& j : parsed.jobs)
    if (j.info.id != 0) out.push_back(std::move(j.info));
  return out;
}

std::optional<JobInfo> parse_sacct_line(std::string_view line) {
  std::vector<std::string> f;
  size_t start = 0;
  while (true) {
    const size_t bar = line.find('|', start);
    f.emplace_back(line.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  if (f.size() < 4) return std::nullopt;
  JobInfo info;
  try {
    info.id = std::stoll(f[0]);
  } catch (const std::exception&) {
    return std::nullopt;  // a step line (123.batch) or a header
  }
  if (f[0].find('.') != std::string::npos) return std::nullopt;
  info.name = f[1];
  // "CANCELLED by 0" -> CANCELLED
  info.state = f[2].substr(0, f[2].find(' '));
  if (info.state.empty()) return std::nullopt;
  try {
    info.exit_code = std::stoi(f[3].substr(0, f[3].find(':')));
  } catch (const std::exception&) {
  }
  return info;
}

Tools::Tools(ProcessLauncher& launcher, ToolOptions o) : launcher_(launcher), o_(std::move(o)) {}

Tools::Output Tools::run(const std::string& tool, const std::vector<std::string>& args) const {
  const fs::path exe = launcher_.find_executable(tool);
  if (exe.empty())
    throw SlurmError(fmt::format("'{}' is not on the PATH; install Slurm's client tools (apt-get install "
                                 "slurm-client) or run the daemon where they are",
                                 tool));
  static std::atomic<unsigned> counter{0};
  ProcessSpec spec;
  spec.exe = exe;
  spec.args = args;
  if (!o_.conf.empty()) spec.env["SLURM_CONF"] = o_.conf.string();
  spec.stderr_file = fs::temp_directory_path() / fmt::format("torchexam-{}-{}-{}.err", tool, getpid(), counter++);
  spec.wall_timeout_s = o_.timeout_s;
  Output out;
  ProcessResult r = launcher_.run(spec, [&](std::string_view line) {
    out.out.append(line);
    out.out.push_back('\n');
  });
  std::error_code ec;
  try {
    out.err = trim(read_file(spec.stderr_file));
  } catch (const std::exception&) {
  }
  fs::remove(spec.stderr_file, ec);
  out.timed_out = r.timed_out;
  out.exit_code = r.exit_code.value_or(-1);
  return out;
}

std::string Tools::run_retried(const std::string& tool, const std::vector<std::string>& args, const char* what) const {
  std::string last;
  for (int attempt = 1; attempt <= std::max(1, o_.attempts); ++attempt) {
    Output r = run(tool, args);
    if (r.exit_code == 0 && !r.timed_out) return r.out;
    last = r.timed_out ? fmt::format("{} did not answer within {:.0f} s", tool, o_.timeout_s)
                       : fmt::format("{} failed (exit code {}): {}", tool, r.exit_code, r.err.empty() ? r.out : r.err);
    if (attempt < o_.attempts) std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
  }
  throw SlurmError(fmt::format("{}: {} (after {} attempts; is the Slurm controller up? `sinfo` tells)", what, last,
                               o_.attempts));
}

std::vector<std::string> Tools::sbatch_args(const Submission& s) {
  std::vector<std::string> a = {"--parsable", "--job-name=" + s.name, "--output=" + s.output.string(),
                                "--cpus-per-task=" + std::to_string(std::max(1, s.cpus)), "--requeue",
                                "--kill-on-invalid-dep=yes"};
  if (!s.partition.empty()) a.push_back("--partition=" + s.partition);
  if (s.memory_mib > 0) a.push_back("--mem=" + std::to_string(s.memory_mib) + "M");
  if (s.time_minutes > 0) a.push_back("--time=" + std::to_string(s.time_minutes));
  if (!s.uid.empty() && geteuid() == 0) a.push_back("--uid=" + s.uid);
  if (!s.gid.empty() && geteuid() == 0) a.push_back("--gid=" + s.gid);
  a.insert(a.end(), s.extra_args.begin(), s.extra_args.end());
  return a;
}

int64_t Tools::submit(const Submission& s) const {
  auto args = sbatch_args(s);
  args.push_back(s.script.string());
  std::string last;
  for (int attempt = 1; attempt <= std::max(1, o_.attempts); ++attempt) {
    if (attempt > 1) {
      // The earlier attempt may have reached the controller before it timed out.
      try {
        for (const auto& j : queue())
          if (j.name == s.name) return j.id;
      } catch (const SlurmError&) {
      }
    }
    Output r = run("sbatch", args);
    if (r.exit_code == 0 && !r.timed_out) {
      const std::string id = trim(r.out).substr(0, r.out.find(';'));
      try {
        return std::stoll(id);
      } catch (const std::exception&) {
        throw SlurmError("sbatch printed no job id: '" + trim(r.out) + "'");
      }
    }
    last = r.timed_out ? fmt::format("sbatch did not answer within {:.0f} s", o_.timeout_s) : r.err;
    // Refusals that no retry fixes: say them at once.
    for (const char* fatal : {"invalid partition", "Invalid account", "Invalid user", "Requested node configuration",
                              "More processors requested", "Memory required by task", "Invalid generic resource",
                              "unrecognized option", "invalid option", "Invalid --"})
      if (last.find(fatal) != std::string::npos)
        throw SlurmError("sbatch refused the job: " + last +
                         " (check grading.slurm in environment.yaml: partition, sbatch_args, and the task's "
                         "memory_limit and threads against the cluster's nodes)");
    if (attempt < o_.attempts) std::this_thread::sleep_for(std::chrono::milliseconds(250 << attempt));
  }
  throw SlurmError(fmt::format("sbatch failed {} times: {} (is the Slurm controller up? `sinfo` tells)",
                               o_.attempts, last));
}

std::vector<JobInfo> Tools::queue() const {
  return parse_squeue_json(run_retried("squeue", {"--json"}, "reading the job queue"));
}

std::optional<JobInfo> Tools::completed(int64_t id) const {
  Output r = run("sacct", {"-c", "-n", "-P", "-j", std::to_string(id), "-o", "JobID,JobName,State,ExitCode"});
  if (r.exit_code != 0 || r.timed_out) return std::nullopt;
  std::optional<JobInfo> last;
  size_t start = 0;
  while (start < r.out.size()) {
    size_t nl = r.out.find('\n', start);
    if (nl == std::string::npos) nl = r.out.size();
    if (auto j = parse_sacct_line(std::string_view(r.out).substr(start, nl - start)); j && j->id == id) last = j;
    start = nl + 1;
  }
  return last;  // the log keeps every run of a requeued job: the last one stands
}

void Tools::cancel(int64_t id) const { run_retried("scancel", {std::to_string(id)}, "cancelling a job"); }

}  // namespace torchexam::slurm
