#include "base/process.hpp"

// Boost.Process v2 (header-only; only this file includes it). Its paths are
// boost::filesystem's: 1.81 does not build with BOOST_PROCESS_USE_STD_FS.
#include <boost/asio.hpp>
#include <boost/process/v2.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <utility>

extern char** environ;

namespace torchexam {
namespace bp = boost::process::v2;
namespace asio = boost::asio;
namespace fs = std::filesystem;

std::vector<std::string> environment_with(const std::map<std::string, std::string>& overrides) {
  std::vector<std::string> out;
  for (char** e = environ; e && *e; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq != std::string_view::npos && overrides.count(std::string(entry.substr(0, eq)))) continue;
    out.emplace_back(entry);
  }
  for (const auto& [k, v] : overrides) out.push_back(k + "=" + v);
  return out;
}
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxLine = 1 << 20;
constexpr auto kDrainGrace = std::chrono::seconds(2);
constexpr auto kCancelCheckEvery = std::chrono::milliseconds(50);

bp::error_code errno_code() { return {errno, bp::system_category()}; }

bp::filesystem::path native(const fs::path& p) { return bp::filesystem::path(p.string()); }

// A failed exec leaves the forked child through _exit: Boost's launcher
// would call exit(), which runs this process's atexit handlers and static
// destructors in a copy of a multithreaded process.
struct ExitQuietlyOnExecError {
  bp::error_code on_exec_setup(bp::posix::default_launcher&, const bp::filesystem::path&, const char* const*) {
    return {};
  }
  void on_exec_error(bp::posix::default_launcher&, const bp::filesystem::path&, const char* const*,
                     const bp::error_code&) {
    ::_exit(127);
  }
};

// What run() sets up in the child between fork and exec; each step reports
// errno through the launcher (the parent throws with it).
struct ChildSetup : ExitQuietlyOnExecError {
  double cpu_limit_s = 0;
  const fs::path* cwd = nullptr;
  pid_t parent = ::getpid();

  bp::error_code on_exec_setup(bp::posix::default_launcher&, const bp::filesystem::path&, const char* const*) const {
    if (::setpgid(0, 0) != 0) return errno_code();
    // Dies with the thread that started it; and at once when that already
    // happened between fork and here.
    if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) return errno_code();
    if (::getppid() != parent) ::_exit(127);
    if (cpu_limit_s > 0) {
      const auto s = static_cast<rlim_t>(cpu_limit_s);
      const rlimit rl{s, s + 1};
      if (::setrlimit(RLIMIT_CPU, &rl) != 0) return errno_code();
    }
    if (cwd && !cwd->empty() && ::chdir(cwd->c_str()) != 0) return errno_code();
    return {};
  }
};

// environment_with(overrides), as execve takes it.
class Environment {
 public:
  explicit Environment(const std::map<std::string, std::string>& overrides) : strings_(environment_with(overrides)) {
    for (const auto& s : strings_) pointers_.push_back(s.c_str());
    pointers_.push_back(nullptr);
  }
  const char* const* get() const { return pointers_.data(); }

 private:
  std::vector<std::string> strings_;
  std::vector<const char*> pointers_;
};

class FileDescriptor {
 public:
  FileDescriptor(const fs::path& path, int flags) : fd_(::open(path.c_str(), flags | O_CLOEXEC, 0600)) {
    if (fd_ < 0) throw std::runtime_error("cannot open " + path.string() + ": " + std::strerror(errno));
  }
  ~FileDescriptor() { ::close(fd_); }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

std::string cannot_start(const fs::path& exe, const std::string& why) {
  return "cannot start " + exe.string() + ": " + why;
}

// Starts `spec` with ChildSetup (own group, death signal, rlimit, cwd) and
// its environment; `in` and `out` are what process_stdio takes (nullptr, a
// pipe), `err` a descriptor. Throws as run() documents.
template <class In, class Out>
bp::process launch(asio::io_context& io, const ProcessSpec& spec, In&& in, Out&& out, int err) {
  const Environment env(spec.env);
  ChildSetup setup;
  setup.cpu_limit_s = spec.cpu_limit_s;
  setup.cwd = &spec.cwd;
  bp::posix::default_launcher launcher;
  launcher.env = env.get();
  bp::error_code ec;
  bp::process child = launcher(io.get_executor(), ec, native(spec.exe), spec.args,
                               bp::process_stdio{std::forward<In>(in), std::forward<Out>(out), err}, setup);
  if (ec) throw std::runtime_error(cannot_start(spec.exe, ec.message()));
  return child;
}

// One run(): the child, its stdout pipe, the deadline, all on one io_context
// driven by the calling thread.
class Session {
 public:
  Session(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line)
      : spec_(spec), on_line_(on_line), out_(io_), deadline_(io_), cancel_check_(io_) {}

  ProcessResult run() {
    const FileDescriptor err(spec_.stderr_file, O_WRONLY | O_CREAT | O_TRUNC);
    const auto start = Clock::now();
    bp::process child = launch(io_, spec_, nullptr, out_, err.get());
    pid_ = child.id();

    read_next();
    deadline_.expires_after(
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec_.wall_timeout_s)));
    deadline_.async_wait([this](const boost::system::error_code& e) {
      if (e) return;
      result_.timed_out = true;
      kill_group();
      finish_after_grace();
    });
    if (spec_.cancel) check_cancel();
    // The pidfd becomes readable when the child exits; the handler reaps it.
    child.handle().async_wait([this](const bp::error_code& e, int status) {
      if (e == asio::error::operation_aborted) return;
      if (!e) {
        reaped_ = true;
        record(status);
      }
      kill_group();  // anything the child left in its group
      finish_after_grace();
      maybe_stop();
    });
    io_.run();

    if (!reaped_) {  // stopped after the grace: the child never ended
      kill_group();
      int status = 0;
      while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      record(status);
    }
    result_.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
    return result_;
  }

 private:
  void read_next() {
    asio::async_read_until(out_, asio::dynamic_buffer(buf_, kMaxLine), '\n',
                           [this](const boost::system::error_code& e, size_t n) {
                             if (!e) {
                               on_line_(std::string_view(buf_).substr(0, n - 1));
                               buf_.erase(0, n);
                               read_next();
                               return;
                             }
                             if (e == asio::error::not_found) {  // a line longer than kMaxLine
                               on_line_(buf_);
                               buf_.clear();
                               read_next();
                               return;
                             }
                             if (e == asio::error::operation_aborted) return;
                             if (!buf_.empty()) on_line_(buf_);
                             buf_.clear();
                             eof_ = true;
                             maybe_stop();
                           });
  }

  void check_cancel() {
    cancel_check_.expires_after(kCancelCheckEvery);
    cancel_check_.async_wait([this](const boost::system::error_code& e) {
      if (e) return;
      if (spec_.cancel->load()) {
        result_.cancelled = true;
        kill_group();
        finish_after_grace();
        return;
      }
      check_cancel();
    });
  }

  void record(int status) {
    if (WIFSIGNALED(status))
      result_.signal = WTERMSIG(status);
    else if (WIFEXITED(status))
      result_.exit_code = WEXITSTATUS(status);
  }

  void kill_group() {
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
  }

  void finish_after_grace() {
    cancel_check_.cancel();
    if (grace_armed_) return;
    grace_armed_ = true;
    deadline_.cancel();
    deadline_.expires_after(kDrainGrace);
    deadline_.async_wait([this](const boost::system::error_code& e) {
      if (e) return;
      stop();
    });
  }

  void maybe_stop() {
    if (eof_ && reaped_) stop();
  }

  void stop() {
    boost::system::error_code ignored;
    out_.close(ignored);
    deadline_.cancel();
    cancel_check_.cancel();
    io_.stop();
  }

  const ProcessSpec& spec_;
  const std::function<void(std::string_view)>& on_line_;
  asio::io_context io_;
  asio::readable_pipe out_;
  asio::steady_timer deadline_;
  asio::steady_timer cancel_check_;
  std::string buf_;
  pid_t pid_ = -1;
  bool eof_ = false, reaped_ = false, grace_armed_ = false;
  ProcessResult result_;
};

// start_detached(): the launched child starts a session and forks once
// more; the grandchild sends its pid back and execs (its exec error, if
// any, still reaches the launcher: it holds the launcher's error pipe until
// exec), the child exits at once and is reaped here.
struct Detach : ExitQuietlyOnExecError {
  int pid_pipe[2] = {-1, -1};

  bp::error_code on_setup(bp::posix::default_launcher&, const bp::filesystem::path&, const char* const*) {
    if (::pipe2(pid_pipe, O_CLOEXEC) != 0) return errno_code();
    return {};
  }
  bp::error_code on_exec_setup(bp::posix::default_launcher&, const bp::filesystem::path&, const char* const*) const {
    if (::setsid() < 0) return errno_code();
    const pid_t p = ::fork();
    if (p < 0) return errno_code();
    if (p > 0) ::_exit(0);
    const pid_t self = ::getpid();
    if (::write(pid_pipe[1], &self, sizeof self) != static_cast<ssize_t>(sizeof self)) return errno_code();
    return {};
  }
  ~Detach() {
    for (int fd : pid_pipe)
      if (fd >= 0) ::close(fd);
  }
};

int exit_status(int status) { return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status); }

// start_piped()'s child: both pipe ends released to the caller as plain
// descriptors, the process object kept to reap it.
class SystemPipedChild final : public PipedChild {
 public:
  explicit SystemPipedChild(const ProcessSpec& spec) {
    const FileDescriptor err(spec.stderr_file, O_WRONLY | O_CREAT | O_TRUNC);
    asio::writable_pipe in(io_);
    asio::readable_pipe out(io_);
    child_.emplace(launch(io_, spec, in, out, err.get()));
    pid_ = child_->id();
    in_ = in.release();
    out_ = out.release();
  }
  ~SystemPipedChild() override {
    for (int fd : {in_, out_})
      if (fd >= 0) ::close(fd);
    bp::error_code ec;
    if (child_->running(ec)) ::kill(-pid_, SIGKILL);
    child_->wait(ec);
  }
  pid_t pid() const override { return pid_; }
  int take_stdin() override { return std::exchange(in_, -1); }
  int take_stdout() override { return std::exchange(out_, -1); }
  bool running() override {
    bp::error_code ec;
    return child_->running(ec);
  }

 private:
  asio::io_context io_;
  std::optional<bp::process> child_;
  pid_t pid_ = -1;
  int in_ = -1, out_ = -1;
};

class SystemLauncher final : public ProcessLauncher {
 public:
  ProcessResult run(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line) override {
    return Session(spec, on_line).run();
  }

  pid_t start_detached(const DetachedSpec& spec) override {
    std::error_code fs_ec;
    fs::create_directories(spec.log.parent_path(), fs_ec);
    const FileDescriptor log(spec.log, O_WRONLY | O_CREAT | O_APPEND);
    Detach detach;
    asio::io_context io;
    bp::posix::default_launcher launcher;
    bp::error_code ec;
    bp::process child = launcher(io.get_executor(), ec, native(spec.exe), spec.args,
                                 bp::process_stdio{nullptr, log.get(), log.get()}, detach);
    ::close(detach.pid_pipe[1]);
    detach.pid_pipe[1] = -1;
    if (ec) throw std::runtime_error(cannot_start(spec.exe, ec.message()));
    pid_t daemon = -1;
    if (::read(detach.pid_pipe[0], &daemon, sizeof daemon) != static_cast<ssize_t>(sizeof daemon)) daemon = -1;
    child.wait(ec);  // the intermediate, which exited at once
    if (daemon <= 0) throw std::runtime_error(cannot_start(spec.exe, "it did not report its pid"));
    return daemon;
  }

  std::unique_ptr<PipedChild> start_piped(const ProcessSpec& spec) override {
    return std::make_unique<SystemPipedChild>(spec);
  }

  fs::path find_executable(const std::string& name) override {
    if (name.find('/') != std::string::npos) {
      std::error_code ec;
      return fs::exists(name, ec) ? fs::path(name) : fs::path();
    }
    return bp::environment::find_executable(name).string();
  }
};

}  // namespace

std::unique_ptr<PipedChild> ProcessLauncher::start_piped(const ProcessSpec& spec) {
  throw std::runtime_error(cannot_start(spec.exe, "this launcher cannot start a piped child"));
}

ProcessLauncher& system_launcher() {
  static SystemLauncher* launcher = new SystemLauncher;  // never destroyed: used by threads that outlive main
  return *launcher;
}

// ChildProcess

ChildProcess::ChildProcess(const fs::path& exe, const std::vector<std::string>& args, const fs::path& log) {
  const FileDescriptor out(log, O_WRONLY | O_CREAT | O_APPEND);
  asio::io_context io;
  bp::posix::default_launcher launcher;
  ExitQuietlyOnExecError quiet;
  bp::error_code ec;
  bp::process child =
      launcher(io.get_executor(), ec, native(exe), args, bp::process_stdio{nullptr, out.get(), out.get()}, quiet);
  if (ec) throw std::runtime_error(cannot_start(exe, ec.message()));
  pid_ = child.id();
  // From here this object waits for the pid itself (waitpid), which the
  // process object cannot be told: it stays open only while launching.
  child.detach();
}

ChildProcess::~ChildProcess() {
  if (status_) return;
  kill(SIGKILL);
  wait();
}

std::optional<int> ChildProcess::exited() {
  if (!status_) {
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) status_ = exit_status(status);
  }
  return status_;
}

int ChildProcess::wait() {
  if (!status_) {
    int status = 0;
    while (::waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    status_ = exit_status(status);
  }
  return *status_;
}

void ChildProcess::kill(int sig) {
  if (!status_) ::kill(pid_, sig);
}

}  // namespace torchexam
