#include "sandbox/zygote.hpp"

#include "sandbox/fd_io.hpp"
#include "sandbox/zygote_wire.hpp"

#include <CLI/CLI.hpp>

#include <dirent.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <list>
#include <string>
#include <vector>

namespace torchexam::sandbox {

namespace {

// The signal state a fresh runner has when main begins, taken when the
// zygote's main began (it changes none of it), given back to each child.
struct SignalState {
  struct sigaction actions[NSIG];
  sigset_t mask;

  void save() {
    for (int s = 1; s < NSIG; ++s) sigaction(s, nullptr, &actions[s]);
    sigprocmask(SIG_SETMASK, nullptr, &mask);
  }
  void restore() const {
    for (int s = 1; s < NSIG; ++s)
      if (s != SIGKILL && s != SIGSTOP) sigaction(s, &actions[s], nullptr);  // glibc's own signals say EINVAL
    sigprocmask(SIG_SETMASK, &mask, nullptr);
  }
};

SignalState g_signals;

int thread_count() {
  int n = 0;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') ++n;
    closedir(d);
  }
  return n;
}

void say(const std::string& what) { write_all(STDERR_FILENO, "torchexam-runner zygote: " + what + "\n"); }

// One job: its connection until the child is reaped.
struct Job {
  int conn = -1;
  pid_t pid = 0;
  int pidfd = -1;
};

// In the child: becomes the job's process and runs `run`; never returns.
[[noreturn]] void become_job(const zygote::JobRequest& r, const std::vector<int>& stdio, pid_t zygote,
                             int (*run)(int, char**)) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != zygote) _exit(127);  // the zygote died before PDEATHSIG was set
  g_signals.restore();
  for (int i = 0; i < 3; ++i)
    if (dup2(stdio[static_cast<size_t>(i)], i) < 0) _exit(127);
  // No descriptor of the zygote's (its socket, other jobs' connections).
  if (syscall(SYS_close_range, 3u, ~0u, 0u) != 0)
    for (int fd = 3; fd < 65536; ++fd) close(fd);
  if (!r.cwd.empty() && chdir(r.cwd.c_str()) != 0) {
    say("cannot enter the job's working directory " + r.cwd + ": " + std::strerror(errno));
    _exit(127);
  }
  clearenv();
  for (const auto& e : r.env) putenv(strdup(e.c_str()));  // the environment keeps the strings
  std::vector<char*> argv;
  for (const auto& a : r.argv) argv.push_back(strdup(a.c_str()));
  argv.push_back(nullptr);
  std::exit(run(static_cast<int>(r.argv.size()), argv.data()));
}

// Reads the request on `job.conn` and forks its child. False when the job
// is over (refused, or the connection failed) and can be dropped; the
// zygote exits when it is no longer safe to fork.
bool start(Job& job, int (*run)(int, char**)) {
  std::vector<int> fds;
  const auto packet = zygote::recv_packet(job.conn, &fds);
  auto close_fds = [&] {
    for (int fd : fds) close(fd);
  };
  const auto request = packet ? zygote::decode_request(*packet) : std::nullopt;
  if (!request || fds.size() != 3) {
    close_fds();
    zygote::send_packet(job.conn,
                        zygote::encode(zygote::Reply{zygote::Reply::Kind::error, 0, 0, "malformed job request"}));
    return false;
  }
  if (const int n = thread_count(); n != 1) {
    close_fds();
    const std::string why = "it has " + std::to_string(n) + " threads, and forking is only safe with one";
    zygote::send_packet(job.conn, zygote::encode(zygote::Reply{zygote::Reply::Kind::error, 0, 0, why}));
    say(why + "; exiting");
    _exit(3);
  }
  const pid_t self = getpid();
  const pid_t pid = fork();
  if (pid == 0) become_job(*request, fds, self, run);
  close_fds();
  if (pid < 0) {
    zygote::send_packet(job.conn, zygote::encode(zygote::Reply{zygote::Reply::Kind::error, 0, 0,
                                                               std::string("fork: ") + std::strerror(errno)}));
    return false;
  }
  setpgid(pid, pid);  // also here: the harness may kill the group before the child ran
  job.pid = pid;
  job.pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  std::vector<int> attach;
  if (job.pidfd >= 0) attach.push_back(job.pidfd);
  zygote::send_packet(job.conn, zygote::encode(zygote::Reply{zygote::Reply::Kind::started, pid, 0, ""}), attach);
  return true;
}

// Reaps the job's child and reports its wait status.
void finish(Job& job) {
  int status = 0;
  while (waitpid(job.pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (job.conn >= 0)
    zygote::send_packet(job.conn, zygote::encode(zygote::Reply{zygote::Reply::Kind::exit, 0, status, ""}));
}

int listen_on(const std::filesystem::path& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.string().size() >= sizeof addr.sun_path) {
    say("socket path too long: " + path.string());
    return -1;
  }
  std::strcpy(addr.sun_path, path.c_str());
  const int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 16) != 0) {
    say("cannot listen on " + path.string() + ": " + std::strerror(errno));
    return -1;
  }
  return fd;
}

}  // namespace

int zygote_main(int argc, char** argv, int (*run)(int argc, char** argv)) {
  g_signals.save();
  CLI::App app{"torchexam-runner zygote: forks one runner per job with LibTorch loaded (started by the harness)"};
  std::filesystem::path socket_path;
  app.add_option("--socket", socket_path, "Unix socket to serve jobs on (in a folder only this user can enter)")
      ->required();
  CLI11_PARSE(app, argc, argv);

  const int listener = listen_on(socket_path);
  if (listener < 0) return 1;
  struct stat self {};
  if (stat("/proc/self/exe", &self) != 0) {
    say(std::string("cannot stat /proc/self/exe: ") + std::strerror(errno));
    return 1;
  }
  const long long mtime_ns = static_cast<long long>(self.st_mtim.tv_sec) * 1000000000LL + self.st_mtim.tv_nsec;
  if (!write_all(STDOUT_FILENO, "ready " + std::to_string(self.st_dev) + " " + std::to_string(self.st_ino) + " " +
                                    std::to_string(mtime_ns) + "\n"))
    return 1;

  std::list<Job> jobs;
  for (;;) {
    std::vector<pollfd> fds{{STDIN_FILENO, POLLIN, 0}, {listener, POLLIN, 0}};
    std::vector<std::pair<Job*, bool>> owners;  // per pollfd after the first two: its job, and whether it is the pidfd
    for (auto& j : jobs) {
      if (j.conn >= 0 && j.pid == 0) {
        fds.push_back({j.conn, POLLIN, 0});
        owners.push_back({&j, false});
      }
      if (j.pidfd >= 0) {
        fds.push_back({j.pidfd, POLLIN, 0});
        owners.push_back({&j, true});
      }
    }
    bool unwatched = false;  // a child without a pidfd (an old kernel): looked at every 100 ms
    for (const auto& j : jobs) unwatched = unwatched || (j.pid > 0 && j.pidfd < 0 && j.conn >= 0);
    if (poll(fds.data(), fds.size(), unwatched ? 100 : -1) < 0) {
      if (errno == EINTR) continue;
      say(std::string("poll: ") + std::strerror(errno));
      return 1;
    }
    if (fds[0].revents) {
      char buf[64];
      if (read(STDIN_FILENO, buf, sizeof buf) <= 0) return 0;  // let go: the children die with us
    }
    if (fds[1].revents & POLLIN) {
      const int conn = accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
      ucred peer{};
      socklen_t len = sizeof peer;
      if (conn >= 0) {
        if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &peer, &len) == 0 && peer.pid == getppid())
          jobs.push_back(Job{conn, 0, -1});
        else
          close(conn);  // only the process that started the zygote may ask for a child
      }
    }
    for (size_t i = 2; i < fds.size(); ++i) {
      if (!fds[i].revents) continue;
      Job& j = *owners[i - 2].first;
      if (!owners[i - 2].second) {
        if (!start(j, run)) {
          close(j.conn);
          j.conn = -1;
        }
      } else {
        finish(j);
        close(j.pidfd);
        j.pidfd = -1;
        if (j.conn >= 0) close(j.conn);
        j.conn = -1;
      }
    }
    // Without a pidfd the child is reaped here when it has ended.
    for (auto& j : jobs)
      if (j.pid > 0 && j.pidfd < 0 && j.conn >= 0) {
        int status = 0;
        if (waitpid(j.pid, &status, WNOHANG) == j.pid) {
          zygote::send_packet(j.conn, zygote::encode(zygote::Reply{zygote::Reply::Kind::exit, 0, status, ""}));
          close(j.conn);
          j.conn = -1;
        }
      }
    jobs.remove_if([](const Job& j) { return j.conn < 0 && j.pidfd < 0; });
  }
}

}  // namespace torchexam::sandbox
