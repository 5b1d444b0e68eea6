#include "grading/backend/slurm_cli.hpp"

#include "base/hash.hpp"
#include "base/process.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>

namespace torchexam::slurm {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

constexpr std::string_view kFinal[] = {"COMPLETED", "FAILED",   "TIMEOUT",   "OUT_OF_MEMORY", "CANCELLED",
                                       "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"};

// 22.05 gives a number; 23.02+ {"set": bool, "infinite": bool, "number": n}.
std::optional<int64_t> number_of(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->as_int64();
  if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->as_uint64(), INT64_MAX));
  if (v->is_double()) return static_cast<int64_t>(v->as_double());
  if (v->is_object()) {
    const auto& o = v->as_object();
    if (auto* set = o.if_contains("set"); set && set->is_bool() && !set->as_bool()) return std::nullopt;
    return number_of(o.if_contains("number"));
  }
  return std::nullopt;
}

std::string string_of(const json::value* v) {
  if (!v) return {};
  if (v->is_string()) return std::string(v->as_string());
  // 23.02+: a list of flags, the base state first.
  if (v->is_array() && !v->as_array().empty() && v->as_array()[0].is_string())
    return std::string(v->as_array()[0].as_string());
  return {};
}

// exit_code: 22.05 gives the raw wait status (768 for `exit 3`, 9 for
// SIGKILL); 23.02+ {"status": [...], "return_code": n}. A signal gives nullopt.
std::optional<int> exit_code_of(const json::value* v) {
  if (!v) return std::nullopt;
  if (v->is_object()) {
    if (auto n = number_of(v->as_object().if_contains("return_code"))) return static_cast<int>(*n);
    if (v->as_object().if_contains("number")) return static_cast<int>(number_of(v).value_or(0));
    return std::nullopt;
  }
  if (auto n = number_of(v)) {
    const int status = static_cast<int>(*n);
    if ((status & 0x7f) != 0) return std::nullopt;  // killed by a signal
    return (status >> 8) & 0xff;
  }
  return std::nullopt;
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
  json::value root;
  try {
    root = json::parse(text);
  } catch (const std::exception& e) {
    throw SlurmError(std::string("squeue --json printed something that is not JSON: ") + e.what());
  }
  const auto* jobs = root.is_object() ? root.as_object().if_contains("jobs") : nullptr;
  if (!jobs || !jobs->is_array()) throw SlurmError("squeue --json printed no 'jobs' list");
  std::vector<JobInfo> out;
  for (const auto& j : jobs->as_array()) {
    if (!j.is_object()) continue;
    const auto& o = j.as_object();
    JobInfo info;
    info.id = number_of(o.if_contains("job_id")).value_or(0);
    if (info.id == 0) continue;
    info.name = string_of(o.if_contains("name"));
    info.state = string_of(o.if_contains("job_state"));
    info.reason = string_of(o.if_contains("state_reason"));
    info.partition = string_of(o.if_contains("partition"));
    info.priority = number_of(o.if_contains("priority")).value_or(0);
    info.submit_time = number_of(o.if_contains("submit_time")).value_or(0);
    info.start_time = number_of(o.if_contains("start_time")).value_or(0);
    info.end_time = number_of(o.if_contains("end_time")).value_or(0);
    info.exit_code = exit_code_of(o.if_contains("exit_code"));
    info.restarts = static_cast<int>(number_of(o.if_contains("restart_cnt")).value_or(0));
    out.push_back(std::move(info));
  }
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
