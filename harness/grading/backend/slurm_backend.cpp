#include "grading/backend/slurm_backend.hpp"

#include "base/hash.hpp"
#include "base/json_shape.hpp"
#include "grading/backend/slurm_monitor.hpp"
#include "sandbox/events.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <pwd.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <fstream>

namespace torchexam::slurm {
namespace fs = std::filesystem;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr auto kWaitStep = std::chrono::milliseconds(200);
// What the harness's own processes (the runner's supervisor, the sandbox)
// need on top of the phase's memory limit.
constexpr uint64_t kMemoryMarginMiB = 256;
// A build has no memory limit of its own; what g++ with the LibTorch PCH needs.
constexpr uint64_t kBuildMemoryMiB = 3072;

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::optional<std::string> read_if_exists(const fs::path& p) {
  std::error_code ec;
  if (!fs::is_regular_file(p, ec)) return std::nullopt;
  try {
    return read_file(p);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// What the daemon knows of a phase's job, kept beside its script so a
// restarted daemon can pick it up: "submitting" (sbatch may or may not have
// gone through: look the job up by name), "submitted", or "done" with the
// outcome (replayed, not run again).
struct Ledger {
  int64_t job_id = 0;
  std::string script_hash;
  std::string name;
  std::string state;
  int submissions = 0;
  // when done
  bool timed_out = false;
  bool memory_exceeded = false;
  std::string note;
};

Ledger tag_invoke(json::value_to_tag<Ledger>, const json::value& v) {
  const json_shape::Object o(v);
  Ledger l;
  l.job_id = o.required<int64_t>("job_id");
  l.script_hash = o.required<std::string>("script_hash");
  l.name = o.required<std::string>("name");
  l.state = o.required<std::string>("state");
  l.submissions = o.required<int>("submissions");
  l.timed_out = o.required<bool>("timed_out");
  l.memory_exceeded = o.required<bool>("memory_exceeded");
  l.note = o.required<std::string>("note");
  return l;
}

void tag_invoke(json::value_from_tag, json::value& v, const Ledger& l) {
  v = json::object{{"job_id", l.job_id},
                   {"script_hash", l.script_hash},
                   {"name", l.name},
                   {"state", l.state},
                   {"submissions", l.submissions},
                   {"timed_out", l.timed_out},
                   {"memory_exceeded", l.memory_exceeded},
                   {"note", to_valid_utf8(l.note)}};
}

// nullopt when there is none. It is written atomically, so one that does not
// read was not written by a daemon: whether its job runs is unknown, and
// submitting again could run the phase twice. Throws std::runtime_error
// naming the file, the field and the fix.
std::optional<Ledger> read_ledger(const fs::path& file) {
  auto text = read_if_exists(file);
  if (!text) return std::nullopt;
  try {
    return json_shape::parse<Ledger>(*text, "the Slurm job ledger " + file.string());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) +
                             " (cancel the job it names, if any, with scancel, then delete the file to submit the "
                             "phase again)");
  }
}

void write_ledger(const fs::path& file, const Ledger& l) {
  write_file_atomically(file, json::serialize(json::value_from(l)));
}

// Hands `dirs` (recursively) to `uid`/`gid`.
void chown_tree(const std::vector<fs::path>& dirs, uid_t uid, gid_t gid) {
  for (const auto& d : dirs) {
    std::error_code ec;
    if (::lchown(d.c_str(), uid, gid) != 0)
      throw std::runtime_error(fmt::format("cannot hand {} to uid {}: {}", d.string(), uid, strerror(errno)));
    for (auto it = fs::recursive_directory_iterator(d, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec))
      (void)::lchown(it->path().c_str(), uid, gid);
  }
}

// The job's stdout, read as it grows; a requeued job starts it again.
class Tail {
 public:
  explicit Tail(fs::path file) : file_(std::move(file)) {}
  void poll(const std::function<void(std::string_view)>& on_line, bool final) {
    std::ifstream in(file_, std::ios::binary);
    if (!in) return;
    in.seekg(0, std::ios::end);
    const auto size = static_cast<uint64_t>(in.tellg());
    if (size < offset_) {  // started over
      offset_ = 0;
      partial_.clear();
    }
    if (size > offset_) {
      in.seekg(static_cast<std::streamoff>(offset_));
      std::string chunk(size - offset_, '\0');
      in.read(chunk.data(), static_cast<std::streamsize>(chunk.size()));
      chunk.resize(static_cast<size_t>(in.gcount()));
      offset_ += chunk.size();
      partial_ += chunk;
      size_t start = 0;
      for (size_t nl; (nl = partial_.find('\n', start)) != std::string::npos; start = nl + 1)
        on_line(std::string_view(partial_).substr(start, nl - start));
      partial_.erase(0, start);
      if (partial_.size() > (1u << 20)) {  // as the process launcher does: cut lines longer than 1 MiB
        on_line(partial_);
        partial_.clear();
      }
    }
    if (final && !partial_.empty()) {
      on_line(partial_);
      partial_.clear();
    }
  }

 private:
  fs::path file_;
  uint64_t offset_ = 0;
  std::string partial_;
};

}  // namespace

std::string batch_script(const ProcessSpec& spec, const fs::path& stdout_file, const fs::path& exit_file) {
  std::string s = "#!/bin/bash\n# Written by TorchExam: one grading phase as a batch job.\n";
  if (!spec.cwd.empty()) s += "cd " + shell_quote(spec.cwd.string()) + " || exit 97\n";
  for (const auto& [k, v] : spec.env) s += "export " + k + "=" + shell_quote(v) + "\n";
  if (spec.cpu_limit_s > 0)
    s += fmt::format("ulimit -t {}\n", static_cast<long long>(spec.cpu_limit_s) + 1);
  s += shell_quote(spec.exe.string());
  for (const auto& a : spec.args) s += " " + shell_quote(a);
  s += " < /dev/null > " + shell_quote(stdout_file.string()) + " 2> " + shell_quote(spec.stderr_file.string()) + "\n";
  s += "rc=$?\n";
  const std::string tmp = exit_file.string() + ".tmp";
  s += "echo \"$rc\" > " + shell_quote(tmp) + " && mv -f " + shell_quote(tmp) + " " + shell_quote(exit_file.string()) +
       "\n";
  s += "exit 0\n";  // the phase's own status is in the exit file; the job itself succeeded
  return s;
}

SlurmBackend::SlurmBackend(config::Grading::Slurm cfg, ProcessLauncher& launcher)
    : cfg_(std::move(cfg)), tools_(launcher, ToolOptions{cfg_.conf}), monitor_(std::make_unique<Monitor>(tools_, cfg_.poll_s)) {}

SlurmBackend::~SlurmBackend() = default;

ProcessResult SlurmBackend::run(const PhaseJob& job, const std::function<void(std::string_view)>& on_line) {
  const ProcessSpec& spec = job.process;
  if (job.output_dirs.empty()) throw std::runtime_error("a Slurm job needs an output folder on the shared filesystem");
  const fs::path dir = job.output_dirs.front() / (".slurm-" + job.phase);
  const fs::path script = dir / "job.sh";
  const fs::path stdout_file = dir / "stdout";
  const fs::path exit_file = dir / "exit";
  const fs::path ledger_file = dir / "ledger.json";
  fs::create_directories(dir);
  const std::string text = batch_script(spec, stdout_file, exit_file);
  const std::string script_hash = sha256_hex(text);

  // Who the job runs as, and whose the folders are between runs.
  const bool as_other = geteuid() == 0 && !cfg_.user.empty() && cfg_.user != "root";
  uid_t job_uid = geteuid();
  gid_t job_gid = getegid();
  if (as_other) {
    const passwd* pw = ::getpwnam(cfg_.user.c_str());
    if (!pw)
      throw std::runtime_error(fmt::format("grading.slurm.user '{}' is not a user on this machine; Slurm jobs "
                                           "must not run as root, so name an unprivileged user",
                                           cfg_.user));
    job_uid = pw->pw_uid;
    job_gid = pw->pw_gid;
  }
  std::vector<fs::path> handed = job.output_dirs;
  auto take_back = [&] {
    if (as_other) {
      try {
        chown_tree(handed, geteuid(), getegid());
      } catch (const std::exception&) {
      }
    }
  };

  Submission sub;
  sub.script = script;
  sub.output = dir / "slurm.out";
  sub.partition = cfg_.partition;
  sub.cpus = job.cpus;
  sub.memory_mib = job.memory_bytes > 0 ? (job.memory_bytes >> 20) + kMemoryMarginMiB
                                        : (job.phase == "build" ? kBuildMemoryMiB : 0);
  // Slurm counts minutes; the exact deadline is kept here. This is the
  // backstop for a daemon that is not there to keep it.
  sub.time_minutes = static_cast<int>(std::ceil((spec.wall_timeout_s + 60) / 60.0));
  if (as_other) {
    sub.uid = std::to_string(job_uid);
    sub.gid = std::to_string(job_gid);
  }
  sub.extra_args = cfg_.sbatch_args;

  ProcessResult out;
  const auto t0 = SteadyClock::now();
  Ledger ledger;
  if (job.resume)
    if (auto l = read_ledger(ledger_file); l && l->script_hash == script_hash) ledger = *l;
  const auto exit_status = [&](ProcessResult& r) {
    if (auto rc_text = read_if_exists(exit_file)) {
      try {
        const int rc = std::stoi(*rc_text);
        if (rc > 128 && rc < 128 + 65) r.signal = rc - 128;
        else r.exit_code = rc;
      } catch (const std::exception&) {
        r.scheduler_note = fmt::format("the job's exit file {} holds no exit status ('{}')", exit_file.string(),
                                       to_valid_utf8(rc_text->substr(0, 40)));
      }
    }
  };
  if (ledger.state == "done") {
    // Finished before the daemon restarted: replay it, don't run it again.
    Tail(stdout_file).poll(on_line, true);
    exit_status(out);
    out.timed_out = ledger.timed_out;
    out.memory_exceeded = ledger.memory_exceeded;
    out.scheduler_note = ledger.note;
    return out;
  }
  if (ledger.state == "submitting") {
    // The daemon stopped around sbatch: did the job get in?
    ledger.state.clear();
    try {
      for (const auto& j : tools_.queue())
        if (j.name == ledger.name) {
          ledger.job_id = j.id;
          ledger.state = "submitted";
        }
    } catch (const SlurmError&) {
    }
  }

  auto submit = [&] {
    std::error_code ec;
    fs::remove(stdout_file, ec);
    fs::remove(exit_file, ec);
    write_file_atomically(script, text);
    fs::permissions(script, fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
    if (as_other) chown_tree(handed, job_uid, job_gid);
    ledger.script_hash = script_hash;
    ledger.submissions += 1;
    ledger.name = sub.name =
        fmt::format("torchexam-{}-{}-{}", job.phase, script_hash.substr(0, 12), ledger.submissions);
    ledger.state = "submitting";
    write_ledger(ledger_file, ledger);
    ledger.job_id = tools_.submit(sub);
    ledger.state = "submitted";
    write_ledger(ledger_file, ledger);
  };

  try {
    if (ledger.state != "submitted") submit();
  } catch (...) {
    take_back();
    throw;
  }

  Tail tail(stdout_file);
  uint64_t generation = 0;
  int last_position = -1;
  SteadyClock::time_point started_at{};  // when this run started (valid while `started`)
  bool started = false;
  bool we_cancelled = false, deadline_passed = false, cancel_sent = false;
  std::optional<JobInfo> final_info;
  monitor_->watch(ledger.job_id);
  while (true) {
    Seen seen = monitor_->wait(ledger.job_id, generation, kWaitStep);
    generation = seen.generation;
    tail.poll(on_line, false);
    if (detached_) {
      // The daemon stops; the job runs on and the next daemon picks it up.
      monitor_->unwatch(ledger.job_id);
      out.cancelled = true;
      out.scheduler_note = fmt::format("left Slurm job {} running for the next daemon", ledger.job_id);
      out.wall_s = std::chrono::duration<double>(SteadyClock::now() - t0).count();
      return out;
    }
    if (seen.lost) {
      // Neither squeue nor the completion log knows it: the exit file may.
      if (read_if_exists(exit_file)) {
        final_info = JobInfo{};
        final_info->id = ledger.job_id;
        final_info->state = "COMPLETED";
        break;
      }
      if (ledger.submissions > kMaxResubmits) {
        out.scheduler_note = fmt::format("Slurm lost job {} and it was submitted {} times", ledger.job_id,
                                         ledger.submissions);
        break;
      }
      monitor_->unwatch(ledger.job_id);
      submit();
      started = false;
      monitor_->watch(ledger.job_id);
      continue;
    }
    if (!seen.info) continue;
    const JobInfo& info = *seen.info;
    const int position = info.state == "PENDING" ? std::max(1, seen.position) : 0;
    if (position != last_position && job.on_queued) job.on_queued(position);
    last_position = position;
    if (info.state == "RUNNING" && !started) {
      // Counted from the job's own start, not from the submission: queueing
      // is not the candidate's time. squeue's start_time is in whole seconds.
      started = true;
      started_at = SteadyClock::now();
      if (info.start_time > 0) {
        const auto now_s = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
        const double ran = std::clamp(now_s - static_cast<double>(info.start_time), 0.0, 5.0);
        started_at -= std::chrono::duration_cast<SteadyClock::duration>(std::chrono::duration<double>(ran));
      }
    }
    if (info.state == "PENDING" && info.restarts > 0) started = false;  // requeued: a new run
    if (is_final(info.state)) {
      if ((info.state == "NODE_FAIL" || info.state == "BOOT_FAIL" || info.state == "PREEMPTED") && !cancel_sent &&
          ledger.submissions <= kMaxResubmits) {
        on_line(events::to_json_line(
            events::Log{fmt::format("Slurm job {} ended in {}; submitting it again", ledger.job_id, info.state)}));
        monitor_->unwatch(ledger.job_id);
        submit();
        started = false;
        monitor_->watch(ledger.job_id);
        continue;
      }
      final_info = info;
      break;
    }
    if (!cancel_sent) {
      if (spec.cancel && spec.cancel->load()) we_cancelled = true;
      if (started && std::chrono::duration<double>(SteadyClock::now() - started_at).count() > spec.wall_timeout_s)
        deadline_passed = true;
      if (we_cancelled || deadline_passed) {
        try {
          tools_.cancel(ledger.job_id);
          cancel_sent = true;
        } catch (const std::exception&) {
          // retried at the next step
        }
      }
    }
  }
  monitor_->unwatch(ledger.job_id);
  tail.poll(on_line, true);
  out.wall_s = started ? std::chrono::duration<double>(SteadyClock::now() - started_at).count() : 0;

  const std::string state = final_info ? final_info->state : "";
  exit_status(out);
  if (deadline_passed || state == "TIMEOUT" || state == "DEADLINE") {
    out.timed_out = true;
  } else if (we_cancelled) {
    out.cancelled = true;
  } else if (state == "OUT_OF_MEMORY") {
    out.memory_exceeded = true;
    if (!out.exit_code && !out.signal) out.signal = SIGKILL;
  } else if (state == "CANCELLED") {
    out.scheduler_note = fmt::format("Slurm job {} was cancelled outside TorchExam (scancel by an administrator?)",
                                     ledger.job_id);
  } else if (!out.exit_code && !out.signal && out.scheduler_note.empty()) {
    std::string log;
    if (auto t = read_if_exists(sub.output)) log = *t;
    out.scheduler_note = fmt::format("Slurm job {} ended in state {}{} without an exit status{}", ledger.job_id,
                                     state.empty() ? "UNKNOWN" : state,
                                     final_info && !final_info->reason.empty() ? " (" + final_info->reason + ")" : "",
                                     log.empty() ? "" : ": " + log.substr(0, 2000));
  }
  take_back();
  if (!out.cancelled) {
    ledger.state = "done";
    ledger.timed_out = out.timed_out;
    ledger.memory_exceeded = out.memory_exceeded;
    ledger.note = out.scheduler_note;
    try {
      write_ledger(ledger_file, ledger);
    } catch (const std::exception&) {
    }
  }
  return out;
}

}  // namespace torchexam::slurm
