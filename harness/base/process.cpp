#include "base/process.hpp"

#include <boost/asio.hpp>
#include <boost/process.hpp>
#include <boost/process/extend.hpp>

#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

namespace torchexam {
namespace bp = boost::process;
namespace asio = boost::asio;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxLine = 1 << 20;
constexpr auto kDrainGrace = std::chrono::seconds(2);
constexpr auto kPollEvery = std::chrono::milliseconds(50);

// Runs in the child between fork and exec.
struct ChildSetup : bp::extend::handler {
  double cpu_limit_s = 0;
  template <class Executor>
  void on_exec_setup(Executor&) const {
    setpgid(0, 0);
    // The child (and through the runner's own PDEATHSIG chain, its whole
    // tree) dies with the thread that started it: a daemon killed with -9
    // leaves no grading behind to race the re-run after its restart.
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (cpu_limit_s > 0) {
      auto s = static_cast<rlim_t>(cpu_limit_s);
      rlimit rl{s, s + 1};
      setrlimit(RLIMIT_CPU, &rl);
    }
  }
};

class Session {
 public:
  Session(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line)
      : spec_(spec), on_line_(on_line), out_(io_), deadline_(io_), poll_(io_) {}

  ProcessResult run() {
    auto env = boost::this_process::environment();
    bp::environment child_env = env;
    for (const auto& [k, v] : spec_.env) child_env[k] = v;
    ChildSetup setup;
    setup.cpu_limit_s = spec_.cpu_limit_s;
    const auto start = Clock::now();
    std::error_code ec;
    bp::child child;
    if (spec_.cwd.empty())
      child = bp::child(spec_.exe.string(), bp::args(spec_.args), child_env, bp::std_out > out_,
                        bp::std_err > spec_.stderr_file.string(), bp::std_in.close(), setup, ec);
    else
      child = bp::child(spec_.exe.string(), bp::args(spec_.args), child_env, bp::std_out > out_,
                        bp::std_err > spec_.stderr_file.string(), bp::std_in.close(),
                        bp::start_dir(spec_.cwd.string()), setup, ec);
    if (ec) throw std::runtime_error("cannot start " + spec_.exe.string() + ": " + ec.message());
    pid_ = child.id();

    read_next();
    deadline_.expires_after(std::chrono::duration_cast<Clock::duration>(
        std::chrono::duration<double>(spec_.wall_timeout_s)));
    deadline_.async_wait([this](const boost::system::error_code& e) {
      if (e) return;
      result_.timed_out = true;
      kill_group();
      finish_after_grace();
    });
    watch_exit();
    io_.run();

    // Reap (the child has exited or was killed).
    int status = 0;
    if (!reaped_) {
      kill_group();
      while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
      }
      record(status);
    }
    child.detach();  // reaped above; keep Boost from waiting again
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
                             if (e == asio::error::not_found) {  // line longer than kMaxLine
                               on_line_(buf_);
                               buf_.clear();
                               read_next();
                               return;
                             }
                             if (!buf_.empty()) on_line_(buf_);
                             buf_.clear();
                             eof_ = true;
                             maybe_stop();
                           });
  }

  // Polls for the child's exit every kPollEvery and reaps it.
  void watch_exit() {
    poll_.expires_after(kPollEvery);
    poll_.async_wait([this](const boost::system::error_code& e) {
      if (e) return;
      if (spec_.cancel && spec_.cancel->load() && !result_.cancelled) {
        result_.cancelled = true;
        kill_group();
        finish_after_grace();
      }
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
        reaped_ = true;
        record(status);
        kill_group();  // anything the child left in its group
        finish_after_grace();
        maybe_stop();
        return;
      }
      watch_exit();
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
    poll_.cancel();
    io_.stop();
  }

  const ProcessSpec& spec_;
  const std::function<void(std::string_view)>& on_line_;
  asio::io_context io_;
  bp::async_pipe out_;
  asio::steady_timer deadline_;
  asio::steady_timer poll_;
  std::string buf_;
  pid_t pid_ = -1;
  bool eof_ = false, reaped_ = false, grace_armed_ = false;
  ProcessResult result_;
};

}  // namespace

ProcessResult run_process(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line) {
  return Session(spec, on_line).run();
}

}  // namespace torchexam
