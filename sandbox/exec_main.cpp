// torchexam-sandbox — runs one command (the compiler, on candidate source)
// under the same layers as the runner: a job cgroup (memory, pids), a PID
// namespace, no network, a minimal root holding only the system, the
// exposed paths and the writable job directory, rlimits, an unprivileged
// uid, a cleared environment and the seccomp deny-list. An `#include` of
// /etc/shadow or of the hidden labels finds no such file.
//
//   torchexam-sandbox --workdir DIR [--expose PATH]... [--expose-rw PATH]...
//                     [--memory-bytes N] [--max-pids N] [--cpu-seconds N] -- COMMAND ARGS...
//
// Exits with the command's exit status (128 + signal when it was killed);
// 125 when the sandbox itself could not be set up (the reason on stderr).
// The command dies with this process (a parent-death signal, armed again
// after the uid change clears it), and this process with whoever started it
// (the harness's process launcher arms its own): a daemon killed with -9
// leaves no compiler behind.
#include "sandbox/cgroup.hpp"
#include "sandbox/layers.hpp"
#include "sandbox/policy.hpp"

#include <CLI/CLI.hpp>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
  using namespace torchexam::sandbox;
  CLI::App app{"torchexam-sandbox: run one command inside TorchExam's sandbox layers"};
  std::filesystem::path workdir;
  std::vector<std::filesystem::path> expose_ro, expose_rw;
  uint64_t memory_bytes = 2ull << 30, max_pids = 256, cpu_seconds = 0, scratch_bytes = 1ull << 30;
  std::vector<std::string> command;
  app.add_option("--workdir", workdir, "the job directory (writable; the command starts there)")
      ->required()
      ->check(CLI::ExistingDirectory);
  app.add_option("--expose", expose_ro, "a path the command may read (repeatable)");
  app.add_option("--expose-rw", expose_rw, "a path the command may write (repeatable)");
  app.add_option("--memory-bytes", memory_bytes, "memory limit (a cgroup, else RLIMIT_AS)")->capture_default_str();
  app.add_option("--max-pids", max_pids, "processes and threads")->capture_default_str();
  app.add_option("--cpu-seconds", cpu_seconds, "RLIMIT_CPU (0: none)");
  app.add_option("--scratch-bytes", scratch_bytes, "size of /tmp")->capture_default_str();
  app.footer("Everything after -- is the command and its arguments.");
  // Split at "--" by hand: the command's own options must never reach CLI11.
  int split = 1;
  while (split < argc && std::strcmp(argv[split], "--") != 0) ++split;
  for (int i = split + 1; i < argc; ++i) command.emplace_back(argv[i]);
  CLI11_PARSE(app, split, argv);
  if (command.empty()) {
    std::fprintf(stderr, "torchexam-sandbox: no command: give it after --\n");
    return 125;
  }
  workdir = std::filesystem::absolute(workdir);

  std::vector<std::string> notes;
  auto group = JobCgroup::create("torchexam-job-" + std::to_string(getpid()), {memory_bytes, max_pids}, notes);
  const bool pid_ns = !disabled_by_environment("pid_namespace") && unshare(CLONE_NEWPID) == 0;
  const pid_t parent = getpid();
  // The child learns whether this process died before its parent-death
  // signal was (re-)armed from a pipe whose only writer is this process:
  // inside the PID namespace getppid() says nothing.
  int life[2];
  if (pipe2(life, O_CLOEXEC) != 0) {
    std::fprintf(stderr, "torchexam-sandbox: pipe: %s\n", std::strerror(errno));
    return 125;
  }
  pid_t child = fork();
  if (child < 0) {
    std::fprintf(stderr, "torchexam-sandbox: fork: %s\n", std::strerror(errno));
    return 125;
  }
  if (child > 0) {
    close(life[0]);
    int status = 0;
    while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
    }
    group->kill_all();
    if (group->oom_killed()) std::fprintf(stderr, "torchexam-sandbox: the command exceeded its memory limit\n");
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  }
  close(life[1]);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (!pid_ns && getppid() != parent) _exit(125);
  if (auto why = group->join(0); !why.empty()) std::fprintf(stderr, "torchexam-sandbox: %s\n", why.c_str());
  (void)group.release();  // the parent removes it

  JobPolicy policy;
  policy.workdir = workdir;
  policy.view.scratch_bytes = scratch_bytes;
  policy.view.exposed.push_back({workdir, true});
  for (const char* dir : {"/usr/include", "/usr/libexec"})
    if (std::filesystem::exists(dir)) policy.view.exposed.push_back({dir, false});
  for (const auto& p : expose_ro) policy.view.exposed.push_back({std::filesystem::absolute(p), false});
  for (const auto& p : expose_rw) policy.view.exposed.push_back({std::filesystem::absolute(p), true});
  policy.limits.cpu_seconds = cpu_seconds;
  policy.limits.max_open_files = 1024;
  policy.memory_bytes = memory_bytes;
  policy.memory_cgroup = group && group->has_memory();
  LayerReport layers = apply_layers(policy);
  if (layers.error) {
    std::fprintf(stderr, "torchexam-sandbox: %s\n", layers.error->message().c_str());
    _exit(125);
  }
  // The layers changed the uid, which clears the parent-death signal: arm it
  // again, so the command (PID 1 of its namespace: its whole tree with it)
  // dies with this process, and this process dies with the harness.
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  pollfd gone{life[0], POLLIN, 0};
  if (poll(&gone, 1, 0) != 0) _exit(125);  // hang-up: the parent died before the signal was armed
  std::vector<char*> args;
  for (auto& a : command) args.push_back(a.data());
  args.push_back(nullptr);
  execvp(args[0], args.data());
  std::fprintf(stderr, "torchexam-sandbox: cannot run %s: %s\n", args[0], std::strerror(errno));
  _exit(127);
}
