// process.hpp — starting other programs, behind one interface.
//
// A ProcessLauncher runs a command to its end (run) or starts one that
// outlives this process (start_detached, the daemon started on demand).
// The real one, system_launcher(), is stateless and thread-safe; tests use a
// fake that records the commands and plays back scripted outputs and exit
// codes (tests/unit/fake_launcher.hpp). The sandbox's own fork/exec
// (sandbox/) does not go through here: containment needs its own steps
// between fork and exec.
//
// run(): the child starts in a process group of its own with stdin on
// /dev/null, no descriptor of ours but its stdio (so a child started on
// another thread never holds this one's pipe), and dies with the thread
// that started it (PR_SET_PDEATHSIG: a daemon killed with -9 leaves no
// grading behind to race the re-run after its restart). Its stdout is read
// line by line and handed to `on_line` on the calling thread, its stderr
// written to `stderr_file` (truncated). At the deadline, or when `cancel`
// turns true, the whole group is killed with SIGKILL (the runner's PID
// namespace takes the rest of the tree with it). run() returns when the
// child has exited and its stdout is drained, or a short grace after the
// exit or the kill when something left behind keeps the pipe open. Lines
// longer than 1 MiB are cut and delivered in pieces. A child that cannot be
// started (no such file, cannot open stderr_file) throws std::runtime_error
// naming the executable and the reason; everything after the start is in
// the ProcessResult.
//
// start_piped(): a child the caller converses with over its stdin and
// stdout (a language server), started as run() starts one (own process
// group, dies with the thread that started it, stderr to `stderr_file`,
// cwd, env, cpu_limit_s) but running until the PipedChild is dropped. The
// deadline and cancel of the spec are not used: the caller keeps its own.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam {

struct ProcessSpec {
  std::filesystem::path exe;  // a path; find_executable() resolves a bare name
  std::vector<std::string> args;
  std::map<std::string, std::string> env;  // set on top of this process's environment
  std::filesystem::path cwd;               // empty: inherit
  std::filesystem::path stderr_file;       // required
  double wall_timeout_s = 60;
  double cpu_limit_s = 0;  // RLIMIT_CPU for the child when > 0 (the runner sets its own)
  // When set and it becomes true, the group is killed as at the deadline
  // (the flag is looked at every 50 ms) and the result says cancelled.
  const std::atomic<bool>* cancel = nullptr;
};

struct ProcessResult {
  bool timed_out = false;  // the deadline passed and the group was killed
  bool cancelled = false;  // spec.cancel became true and the group was killed
  std::optional<int> exit_code;
  std::optional<int> signal;
  double wall_s = 0;
  // Set by a scheduler backend (grading/backend/backend.hpp); a local run leaves them.
  bool memory_exceeded = false;  // the scheduler stopped it for using more memory than the job reserved
  std::string scheduler_note;    // what the scheduler did that the fields above don't say
  // Set by a launcher that runs the process through a helper (the warm
  // runner, grading/warm_runner.hpp) when the helper died before it could
  // say how the process ended: the process is gone, exit_code and signal are
  // unset, and the caller may run it again. Says what happened.
  std::string lost;
};

// A program to start apart from this one: a new session, not our child (it
// is reparented at once), stdin on /dev/null, stdout and stderr appended to
// `log` (created 0600, its folder too).
struct DetachedSpec {
  std::filesystem::path exe;
  std::vector<std::string> args;
  std::filesystem::path log;
};

// A child started by start_piped(). The caller takes its two pipe ends
// (once each; it then owns and closes them). Dropping it kills the child's
// process group (SIGKILL) and reaps it. One thread at a time.
class PipedChild {
 public:
  virtual ~PipedChild() = default;
  virtual pid_t pid() const = 0;
  // The write end of its stdin and the read end of its stdout, -1 when
  // already taken.
  virtual int take_stdin() = 0;
  virtual int take_stdout() = 0;
  // Without blocking: whether it has not exited yet.
  virtual bool running() = 0;
};

class ProcessLauncher {
 public:
  virtual ~ProcessLauncher() = default;
  // See the contract above. Thread-safe.
  virtual ProcessResult run(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line) = 0;
  // Starts `spec` detached and returns its pid once it has exec'd (the
  // program's own pid, not an intermediate's). Throws std::runtime_error
  // when it cannot be started. Thread-safe.
  virtual pid_t start_detached(const DetachedSpec& spec) = 0;
  // See start_piped() above. Throws std::runtime_error when it cannot be
  // started; a launcher that cannot converse with a child (a test's fake)
  // keeps this default, which throws saying so. Thread-safe.
  virtual std::unique_ptr<PipedChild> start_piped(const ProcessSpec& spec);
  // The executable `name` names: a name with a '/' as it is when it
  // exists, else the first match on the PATH; empty when there is none.
  virtual std::filesystem::path find_executable(const std::string& name) = 0;
};

// This process's environment with `overrides` set on top, as "NAME=value"
// strings: what a child started with ProcessSpec::env gets.
std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides);

// The real launcher (Boost.Process v2: the child's exit is watched through
// a pidfd, no polling). One for the process, never destroyed.
ProcessLauncher& system_launcher();

// A child that runs beside the caller until it is killed or ends by itself
// (the daemon under test in tests/e2e, a benchmark's daemon), with stdout
// and stderr appended to a log file. Not behind ProcessLauncher: only tests
// and benchmarks start long-lived children they then signal. The destructor
// kills it (SIGKILL) and reaps it if it still runs. One thread at a time.
class ChildProcess {
 public:
  // Throws std::runtime_error naming `exe` when it cannot be started.
  ChildProcess(const std::filesystem::path& exe, const std::vector<std::string>& args,
               const std::filesystem::path& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Without blocking: the exit status when it has ended (its exit code, or
  // 128 + the signal that killed it), nullopt while it runs.
  std::optional<int> exited();
  // Blocks until it ends; the status as exited() gives it.
  int wait();
  // Sends `sig` unless it has already been reaped.
  void kill(int sig);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace torchexam
