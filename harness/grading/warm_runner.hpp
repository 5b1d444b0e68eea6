// warm_runner.hpp — a ProcessLauncher that starts torchexam-runner by
// forking it from a warm runner, a zygote with LibTorch already loaded
// (sandbox/zygote.hpp), and everything else through the real launcher.
//
// Why: a fresh runner spends 0.55-0.7 s loading LibTorch before main, twice
// per grading (train, evaluate); a zygote's child starts in milliseconds
// (docs/benchmarks.md, "The warm runner"). The child runs the fresh
// runner's code from main on and applies every sandbox layer itself.
//
// run() of a spec whose exe is `runner` (and without a cpu_limit_s) goes to
// the zygote kept for its environment (this process's with spec.env on top)
// and the calling thread's niceness, which the zygote's children inherit
// from it; one is started, and waited for, on first use. It gives run()'s contract
// (process.hpp): stdout lines to `on_line` on the calling thread, stderr to
// spec.stderr_file, the child's own process group killed with SIGKILL at the
// deadline or on cancel, exit code or signal from the zygote's report.
// The job runs as a fresh process instead, with one log line saying why,
// when the zygote cannot be started, does not answer or refuses the job
// (then no zygote is tried for that environment for 5 minutes). A zygote
// that has ended, or whose torchexam-runner changed on disk since it
// started (stale), is let go and a new one started, with a log line. When the zygote dies during a job, the job
// dies with it; run() then returns with ProcessResult::lost set, exit code
// and signal unset, once the job's process has gone (launch_runner runs the
// phase again unless the job had finished: runner_launch.hpp).
//
// A zygote dies with the thread that started it (PR_SET_PDEATHSIG, as
// every child of the real launcher) and lets its children die with it; the
// destructor lets every zygote go (their jobs must have ended: each run()
// holds its zygote). Thread-safe. `real` must outlive this launcher.
#pragma once

#include "base/process.hpp"

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

namespace torchexam {

struct WarmRunnerOptions {
  std::filesystem::path runner;  // the runner executable (paths::runner())
  // Each decision worth knowing (a zygote started, a fallback and why);
  // empty: written to stderr prefixed "warm runner: ".
  std::function<void(std::string_view)> log;
  double ready_timeout_s = 60;  // for a zygote's `ready` line (LibTorch loads slowly under load)
  bool log_starts = true;       // also log each zygote started (fallbacks are always logged)
};

class WarmRunnerLauncher final : public ProcessLauncher {
 public:
  // Throws std::runtime_error when it cannot make its private socket folder.
  WarmRunnerLauncher(ProcessLauncher& real, WarmRunnerOptions options);
  ~WarmRunnerLauncher() override;
  WarmRunnerLauncher(const WarmRunnerLauncher&) = delete;
  WarmRunnerLauncher& operator=(const WarmRunnerLauncher&) = delete;

  ProcessResult run(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line) override;
  pid_t start_detached(const DetachedSpec& spec) override { return real_.start_detached(spec); }
  std::unique_ptr<PipedChild> start_piped(const ProcessSpec& spec) override { return real_.start_piped(spec); }
  std::filesystem::path find_executable(const std::string& name) override { return real_.find_executable(name); }

  // The pid of the zygote kept for runner specs with environment `env` (and
  // this thread's niceness), if there is one; for tests and benchmarks.
  std::optional<pid_t> zygote_pid(const std::map<std::string, std::string>& env);

  struct Zygote;

 private:
  std::shared_ptr<Zygote> acquire(const ProcessSpec& spec);
  // No zygote for `key` for a while (kRetryAfter), saying why. Under mu_.
  void set_broken(const std::string& key, std::string why);
  void log(const std::string& line);

  ProcessLauncher& real_;
  WarmRunnerOptions o_;
  std::filesystem::path dir_;  // private folder of the zygotes' sockets and logs
  std::mutex mu_;
  std::map<std::string, std::shared_ptr<Zygote>> zygotes_;
  struct Broken {
    std::chrono::steady_clock::time_point until;
    std::string why;
  };
  std::map<std::string, Broken> broken_;
  unsigned started_ = 0;
};

// `on`: a WarmRunnerLauncher over `real` for paths::runner(), logging with
// `log`; `off`: nullptr (use `real`). What --warm-runner of torchexamd and
// `torchexam grade` choose.
std::unique_ptr<ProcessLauncher> make_runner_launcher(bool on, ProcessLauncher& real,
                                                      std::function<void(std::string_view)> log = {},
                                                      bool log_starts = true);

}  // namespace torchexam
