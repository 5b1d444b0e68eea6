// torchexamd — the exam daemon: owns exam sessions, their timers, the
// submission queue and the workspace watch, and serves clients over a Unix
// socket (JSON-RPC 2.0 with LSP framing, docs/protocol.md).
//
// One daemon per socket (and so per user by default): a second one exits
// with a message naming the first one's pid. The socket's folder is made
// 0700 and the socket 0600. SIGTERM or SIGINT stop it cleanly; a kill -9
// loses nothing (see store.hpp), and the next start re-queues what was
// running.
#include "base/clock.hpp"
#include "base/paths.hpp"
#include "base/thread_sched.hpp"
#include "daemon/adapter.hpp"
#include "daemon/server.hpp"
#include "daemon/watcher.hpp"
#include "doctor/doctor.hpp"
#include "exam/exam_service.hpp"
#include "store/store.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <optional>

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace torchexam;

namespace {

// Holds an exclusive lock on `lock` for the daemon's lifetime; the file
// holds the pid of the holder. One on the socket and one on the state
// folder: two daemons may share neither.
int lock_instance(const fs::path& lock, const fs::path& socket) {
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + lock.string());
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string pid;
    std::ifstream(lock) >> pid;
    ::close(fd);
    throw std::runtime_error(fmt::format("torchexamd is already running (pid {}) and holds {}; stop it with "
                                         "`torchexam daemon stop --socket {}`",
                                         pid.empty() ? "?" : pid, lock.string(), socket.string()));
  }
  const std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::write(fd, pid.data(), pid.size()) < 0) {
    // The pid is only for messages; the lock is what counts.
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"torchexamd: the TorchExam daemon (usually started by `torchexam`)"};
  fs::path socket, state;
  int concurrency = 1;
  int job_nice = 10;
  std::string watcher = "inotify";
  std::string job_policy = "normal";
  int io_slice_us = 0;
  std::optional<int> io_nice;
  app.add_option("--socket", socket, "Unix socket to listen on (default: $XDG_RUNTIME_DIR/torchexam/daemon.sock)");
  app.add_option("--state-dir", state,
                 "database, artifacts and job folders (default: $TORCHEXAM_STATE_DIR, $XDG_STATE_HOME/torchexam, "
                 "~/.local/state/torchexam)");
  app.add_option("--concurrency", concurrency, "grading jobs run at once")->check(CLI::Range(1, 16));
  app.add_option("--job-nice", job_nice,
                 "niceness of grading jobs (compiler and training): they yield the CPU to the daemon and the editor")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--job-policy", job_policy,
                 "scheduling policy of grading jobs: normal, batch (never preempt on wake-up) or idle (run only "
                 "on CPU time nobody else wants; --job-nice does not apply)")
      ->check(CLI::IsMember({"normal", "batch", "idle"}))
      ->capture_default_str();
  app.add_option("--io-slice-us", io_slice_us,
                 "time slice the io thread asks the scheduler for, in microseconds (Linux >= 6.12: a short slice "
                 "lets it preempt a running job when a client's request wakes it); 0: the kernel's default")
      ->check(CLI::Range(0, 100000))
      ->capture_default_str();
  app.add_option("--io-nice", io_nice, "niceness of the io thread (below 0 needs CAP_SYS_NICE)")
      ->check(CLI::Range(-20, 19));
  app.add_option("--watcher", watcher, "workspace watcher backend: inotify, or none")
      ->check(CLI::IsMember({"inotify", "none"}));
  CLI11_PARSE(app, argc, argv);
  if (socket.empty()) socket = paths::socket_path();
  if (state.empty()) state = paths::state_dir();
  socket = fs::absolute(socket);

  try {
    paths::ensure_private_dir(socket.parent_path());
    state = fs::absolute(state);
    fs::create_directories(state);
    const int socket_lock = lock_instance(socket.string() + ".lock", socket);
    const int state_lock = lock_instance(state / "daemon.lock", socket);
    (void)socket_lock;  // both held until exit
    (void)state_lock;

    asio::io_context io;
    SystemClock clock;
    auto db = store::Store::open(state);
    BackendRegistry backends(system_launcher());
    ServiceOptions so;
    so.backends = &backends;
    so.concurrency = concurrency;
    so.job_nice = job_nice;
    so.job_policy = job_policy;
    so.jobs_dir = state / "jobs";
    so.state_dir = state;
    so.verify = [](const config::Environment& env) { return doctor::verify(env, {/*check_daemon=*/false}); };
    if (watcher != "none") {
      so.watch = [&io, watcher](const fs::path& root, std::function<void(const std::vector<fs::path>&)> changed)
          -> std::shared_ptr<void> {
        try {
          return std::make_shared<daemon::Watcher>(io, root, daemon::make_watcher_backend(watcher, io, root),
                                                   std::chrono::milliseconds(300), std::move(changed));
        } catch (const std::exception& e) {
          fmt::print(stderr, "torchexamd: not watching {}: {}\n", root.string(), e.what());
          return nullptr;
        }
      };
    }
    ExamService service(io, clock, *db, so);

    std::unique_ptr<daemon::Server> server;
    asio::steady_timer stopper(io);
    bool stopping = false;
    auto shutdown = [&] {
      if (stopping) return;
      stopping = true;
      // Let the reply that asked for it go out first.
      stopper.expires_after(std::chrono::milliseconds(100));
      stopper.async_wait([&](const boost::system::error_code&) {
        service.shutdown();
        if (server) server->stop();
        io.stop();
      });
    };
    daemon::Adapter adapter(
        service, [&](std::string body) { if (server) server->broadcast(body); }, shutdown,
        {static_cast<int>(::getpid()), socket.string(), state.string()});
    server = std::make_unique<daemon::Server>(io, socket, adapter.binder());
    server->start();
    service.recover();

    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) shutdown();
    });
    asio::steady_timer ticker(io);
    std::function<void()> tick = [&] {
      service.tick();
      ticker.expires_after(std::chrono::seconds(1));
      ticker.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) tick();
      });
    };
    tick();
    // The io thread's own scheduling, set after the service has made its
    // worker threads (they keep the default); a failure is reported, not fatal.
    if (io_nice && ::setpriority(PRIO_PROCESS, 0, *io_nice) != 0)
      fmt::print(stderr, "torchexamd: io thread stays at nice {}: {}\n", ::getpriority(PRIO_PROCESS, 0),
                 std::strerror(errno));
    if (io_slice_us > 0)
      if (auto why = set_thread_slice(io_slice_us); !why.empty())
        fmt::print(stderr, "torchexamd: io thread keeps the default time slice: {}\n", why);
    fmt::print(stderr, "torchexamd {}: listening on {} (state in {})\n", ::getpid(), socket.string(), state.string());
    io.run();
    fmt::print(stderr, "torchexamd {}: stopped\n", ::getpid());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexamd: {}\n", e.what());
    return 1;
  }
}
