// torchexamd — the exam daemon: owns exam sessions, their timers, the
// submission queue and the workspace watch, and serves clients over a Unix
// socket (JSON-RPC 2.0 with LSP framing, docs/protocol.md) and, with
// --listen, over TLS to candidates and examiners who log in with a token
// (the proctored server, docs/server.md; tokens are issued by
// --add-candidate / --add-examiner, server_admin.hpp).
//
// One daemon per socket (and so per user by default): a second one exits
// with a message naming the first one's pid. The socket's folder is made
// 0700 and the socket 0600. SIGTERM or SIGINT stop it cleanly; a kill -9
// loses nothing (see store.hpp), and the next start re-queues what was
// running.
#include "base/clock.hpp"
#include "base/paths.hpp"
#include "daemon/adapter.hpp"
#include "daemon/clangd_checker.hpp"
#include "daemon/server.hpp"
#include "daemon/server_admin.hpp"
#include "daemon/tls_server.hpp"
#include "daemon/watcher.hpp"
#include "doctor/doctor.hpp"
#include "exam/exam_service.hpp"
#include "grading/warm_runner.hpp"
#include "store/store.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
namespace asio = boost::asio;
using namespace torchexam;

namespace {

// Whether `pid` is a running torchexamd (a pid taken over by another
// program after the daemon ended is not).
bool daemon_running(const std::string& pid) {
  if (pid.empty() || pid.find_first_not_of("0123456789") != std::string::npos) return false;
  std::ifstream comm("/proc/" + pid + "/comm");
  std::string name;
  return comm >> name && name == "torchexamd";
}

// How long a start waits for a lock whose daemon is gone (see below).
constexpr auto kLeftoverWait = std::chrono::seconds(15);

// Holds an exclusive lock on `lock` for the daemon's lifetime; the file
// holds the pid of the holder. One on the socket and one on the state
// folder: two daemons may share neither.
//
// A daemon killed with kill -9 can leave, for a moment, a process it had
// just forked to start a program: until that child closes its inherited
// descriptors (before exec, or at once when it finds its parent gone) it
// holds the lock and the listening socket, and on a loaded machine that
// child, at the grading jobs' niceness, may wait a while for a CPU. So when
// the pid in the file is no running torchexamd, the lock is waited for (up
// to kLeftoverWait) instead of refused; a running daemon is refused at once.
int lock_instance(const fs::path& lock, const fs::path& socket) {
  int fd = ::open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) throw std::runtime_error("cannot open " + lock.string());
  const auto give_up = std::chrono::steady_clock::now() + kLeftoverWait;
  while (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    std::string pid;
    std::ifstream(lock) >> pid;
    if (daemon_running(pid)) {
      ::close(fd);
      throw std::runtime_error(fmt::format("torchexamd is already running (pid {}) and holds {}; stop it with "
                                           "`torchexam daemon stop --socket {}`",
                                           pid, lock.string(), socket.string()));
    }
    if (std::chrono::steady_clock::now() > give_up) {
      ::close(fd);
      throw std::runtime_error(fmt::format(
          "{} is still locked {} s after torchexamd{} ended, by a process it left behind; `fuser -v {}` names it, "
          "and the daemon starts once it is stopped",
          lock.string(), kLeftoverWait.count(), pid.empty() ? "" : " (pid " + pid + ")", lock.string()));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
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
  std::string save_checker = "clangd";
  std::string speculative = "idle";
  std::string warm_runner = "on";
  app.add_option("--socket", socket, "Unix socket to listen on (default: $XDG_RUNTIME_DIR/torchexam/daemon.sock)");
  app.add_option("--state-dir", state,
                 "database, artifacts and job folders (default: $TORCHEXAM_STATE_DIR, $XDG_STATE_HOME/torchexam, "
                 "~/.local/state/torchexam)");
  app.add_option("--concurrency", concurrency, "grading jobs run at once")->check(CLI::Range(1, 16));
  app.add_option("--job-nice", job_nice,
                 "niceness of grading jobs (compiler and training): they yield the CPU to the daemon and the editor")
      ->check(CLI::Range(0, 19))
      ->capture_default_str();
  app.add_option("--watcher", watcher, "workspace watcher backend: inotify, or none")
      ->check(CLI::IsMember({"inotify", "none"}));
  app.add_option("--save-checker", save_checker,
                 "who checks a saved solution.cpp: clangd (one kept warm per session; the compiler check when "
                 "clangd is missing, fails or is slow), or compiler (the environment's compiler, g++ or clang++ by "
                 "its compiler.id, with -fsyntax-only and the precompiled header each time; 'gcc' is the same)")
      ->envname("TORCHEXAM_SAVE_CHECKER")
      ->check(CLI::IsMember({"clangd", "compiler", "gcc"}))
      ->capture_default_str();
  app.add_option("--speculative-builds", speculative,
                 "build a solution whose save checks clean in the background (nice 19, idle I/O) into the build "
                 "cache, cancelled by the next save, so that a submit of it finds the build ready: idle (only while "
                 "no local grading runs; a grading that starts cancels one of other content and it starts again "
                 "after), always (beside gradings too, at the same low priority), or off")
      ->envname("TORCHEXAM_SPECULATIVE_BUILDS")
      ->check(CLI::IsMember({"idle", "always", "off"}))
      ->capture_default_str();
  app.add_option("--warm-runner", warm_runner,
                 "start torchexam-runner by forking it from a warm runner that has LibTorch loaded (one per runner "
                 "environment, started on first use) instead of a fresh process, which saves the 0.6-1.3 s a fresh "
                 "runner spends loading LibTorch, per training and evaluation phase (docs/benchmarks.md); every "
                 "sandbox layer is applied as in a fresh runner: on, or off (always fresh processes)")
      ->envname("TORCHEXAM_WARM_RUNNER")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  daemon::ServerFlags net;
  daemon::add_server_flags(app, net);
  CLI11_PARSE(app, argc, argv);
  if (socket.empty()) socket = paths::socket_path();
  if (state.empty()) state = paths::state_dir();
  socket = fs::absolute(socket);
  if (auto rc = daemon::run_token_admin(net, state)) return *rc;

  try {
    // Before any thread: the sandbox probe forks.
    if (!net.listen.empty()) daemon::check_server_floor(net);
    paths::ensure_private_dir(socket.parent_path());
    state = fs::absolute(state);
    if (!net.listen.empty()) daemon::secure_server_folders(net, state, paths::data_dir());
    fs::create_directories(state);
    const int socket_lock = lock_instance(socket.string() + ".lock", socket);
    const int state_lock = lock_instance(state / "daemon.lock", socket);
    (void)socket_lock;  // both held until exit
    (void)state_lock;

    asio::io_context io;
    SystemClock clock;
    auto db = store::Store::open(state);
    const auto warm = make_runner_launcher(warm_runner == "on", system_launcher(), [](std::string_view line) {
      fmt::print(stderr, "torchexamd: warm runner: {}\n", line);
    });
    BackendRegistry backends(warm ? *warm : system_launcher());
    ServiceOptions so;
    so.backends = &backends;
    so.concurrency = concurrency;
    so.job_nice = job_nice;
    so.speculation = *parse_speculation_mode(speculative);
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
    if (save_checker == "clangd") so.save_checker = std::make_shared<daemon::ClangdChecker>(daemon::ClangdOptions{});
    ExamService service(io, clock, *db, so);

    std::unique_ptr<daemon::Server> server;
    std::unique_ptr<daemon::TlsServer> tls_server;
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
        if (tls_server) tls_server->stop();
        // The TLS clients' close_notify goes out (tls_stream.hpp) before the loop ends.
        stopper.expires_after(tls_server ? protocol::TlsStream::kCloseNotifyWait : std::chrono::milliseconds(0));
        stopper.async_wait([&](const boost::system::error_code&) { io.stop(); });
      });
    };
    daemon::Adapter adapter(
        service,
        [&](std::string body, const std::string& session) {
          if (tls_server) tls_server->broadcast(body, session);
          if (server) server->broadcast(body);
        },
        shutdown,
        {static_cast<int>(::getpid()), socket.string(), state.string()});
    server = std::make_unique<daemon::Server>(io, socket, adapter.binder());
    server->start();
    if (!net.listen.empty()) {
      tls_server = std::make_unique<daemon::TlsServer>(
          io, daemon::tls_server_options(net, state, *db, clock, service), adapter.binder());
      tls_server->start();
      fmt::print(stderr, "torchexamd {}: serving TLS on {}:{} ({} mode; candidates' workspaces in {})\n", ::getpid(),
                 net.host, tls_server->port(), net.mode, net.workspaces.string());
    }
    service.recover();

    asio::signal_set signals(io, SIGTERM, SIGINT);
    signals.async_wait([&](const boost::system::error_code& ec, int) {
      if (!ec) shutdown();
    });
    asio::steady_timer ticker(io);
    std::function<void()> tick = [&] {
      service.tick();
      if (tls_server) tls_server->recheck();
      ticker.expires_after(std::chrono::seconds(1));
      ticker.async_wait([&](const boost::system::error_code& ec) {
        if (!ec) tick();
      });
    };
    tick();
    fmt::print(stderr, "torchexamd {}: listening on {} (state in {})\n", ::getpid(), socket.string(), state.string());
    io.run();
    fmt::print(stderr, "torchexamd {}: stopped\n", ::getpid());
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexamd: {}\n", e.what());
    return 1;
  }
}
