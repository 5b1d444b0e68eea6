#include "grading/warm_runner.hpp"

#include "base/paths.hpp"
#include "sandbox/zygote_wire.hpp"

#include <fmt/format.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <utility>
#include <vector>

namespace torchexam {
namespace fs = std::filesystem;
namespace wire = sandbox::zygote;
using Clock = std::chrono::steady_clock;

namespace {

constexpr size_t kMaxLine = 1 << 20;
constexpr auto kDrainGrace = std::chrono::seconds(2);
constexpr auto kAnswerWithin = std::chrono::seconds(10);  // the zygote's `started`
constexpr int kTick = 50;                                 // ms: cancel and deadline checks
constexpr auto kRetryAfter = std::chrono::minutes(5);     // after a zygote failed to start or refused

class Fd {
 public:
  explicit Fd(int fd = -1) : fd_(fd) {}
  ~Fd() { reset(); }
  Fd(Fd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  Fd& operator=(Fd&& o) noexcept {
    if (this != &o) {
      reset();
      fd_ = std::exchange(o.fd_, -1);
    }
    return *this;
  }
  int get() const { return fd_; }
  void reset() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_;
};

std::string errno_text() { return std::strerror(errno); }

// What identifies the file an executable was started from.
std::string identity_of(const fs::path& exe) {
  struct stat st {};
  if (::stat(exe.c_str(), &st) != 0) return "missing";
  return fmt::format("{} {} {}", st.st_dev, st.st_ino,
                     static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec);
}

// Waits until `fd` is readable or `until`; false at the deadline.
bool readable_by(int fd, Clock::time_point until) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now()).count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return false;
  }
}

int nice_of_this_thread() {
  errno = 0;
  return ::getpriority(PRIO_PROCESS, static_cast<id_t>(::gettid()));
}

// Which zygote serves `spec`: the executable, and what its children inherit
// from it instead of from the caller: the whole environment (libgomp and
// glibc read theirs when the zygote starts) and the niceness.
std::string key_of(const ProcessSpec& spec) {
  std::string k = spec.exe.string() + '\n' + std::to_string(nice_of_this_thread()) + '\n';
  for (const auto& e : environment_with(spec.env)) k += e + '\n';
  return k;
}

// The private folder of a launcher: kFolderPrefix, the owning process's
// pid, '-', a random suffix (mkdtemp).
constexpr std::string_view kFolderPrefix = "torchexam-zygote-";

// Removes the folders of launchers whose process has ended without its
// destructor (kill -9): only this user's, and only when their pid no longer
// runs (a pid taken again later keeps its folder until that process ends).
void remove_orphaned_folders(const fs::path& parent) {
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(parent, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind(kFolderPrefix, 0) != 0) continue;
    const std::string rest = name.substr(kFolderPrefix.size());
    const size_t dash = rest.find('-');
    if (dash == 0 || dash > 9 || dash == std::string::npos || rest.find_first_not_of("0123456789") != dash) continue;
    struct stat st {};
    if (::lstat(entry.path().c_str(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::getuid()) continue;
    const pid_t owner = static_cast<pid_t>(std::stol(rest.substr(0, dash)));
    if (::kill(owner, 0) == 0 || errno != ESRCH) continue;
    fs::remove_all(entry.path(), ec);
  }
}

}  // namespace

struct WarmRunnerLauncher::Zygote {
  std::unique_ptr<PipedChild> child;
  Fd lifeline;  // its stdin: it exits at end of file
  fs::path socket;
  std::string identity;  // of its executable, as it reported
  ~Zygote() {
    lifeline.reset();
    child.reset();  // kills what is left of it and reaps it
  }
};

namespace {

// One job through a zygote. run() returns nullopt when the job was not
// started (`why` says why: the caller runs it fresh).
class ZygoteJob {
 public:
  ZygoteJob(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line)
      : spec_(spec), on_line_(on_line) {}

  // `refused`: the zygote answered that it will not fork (it is not safe to).
  std::optional<ProcessResult> run(const WarmRunnerLauncher::Zygote& z, std::string* why, bool* refused) {
    const auto start = Clock::now();
    Fd err(::open(spec_.stderr_file.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
    if (err.get() < 0)
      throw std::runtime_error(fmt::format("cannot start {}: cannot open {}: {}", spec_.exe.string(),
                                           spec_.stderr_file.string(), errno_text()));
    Fd null(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    int p[2];
    if (null.get() < 0 || ::pipe2(p, O_CLOEXEC) != 0) return not_started(why, "pipe: " + errno_text());
    out_ = Fd(p[0]);
    Fd out_w(p[1]);
    conn_ = Fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", z.socket.c_str());
    if (conn_.get() < 0 || ::connect(conn_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0)
      return not_started(why, "cannot connect to " + z.socket.string() + ": " + errno_text());
    wire::JobRequest request;
    std::error_code ec;
    request.cwd = (spec_.cwd.empty() ? fs::current_path(ec) : spec_.cwd).string();
    request.argv.push_back(spec_.exe.string());
    request.argv.insert(request.argv.end(), spec_.args.begin(), spec_.args.end());
    request.env = environment_with(spec_.env);
    if (!wire::send_packet(conn_.get(), wire::encode(request), {null.get(), out_w.get(), err.get()}))
      return not_started(why, "cannot send the job: " + errno_text());
    out_w.reset();  // the child holds the only write end: end of file when it and its tree are gone
    std::vector<int> fds;
    std::optional<std::string> packet;
    if (readable_by(conn_.get(), Clock::now() + kAnswerWithin)) packet = wire::recv_packet(conn_.get(), &fds);
    for (size_t i = 1; i < fds.size(); ++i) ::close(fds[i]);
    if (!fds.empty()) pidfd_ = Fd(fds[0]);
    const auto reply = packet ? wire::decode_reply(*packet) : std::nullopt;
    if (!reply) return not_started(why, "it did not answer the job's request");
    if (reply->kind == wire::Reply::Kind::error) {
      *refused = true;
      return not_started(why, "it refused the job: " + reply->message);
    }
    if (reply->kind != wire::Reply::Kind::started) return not_started(why, "it answered out of turn");
    pid_ = reply->pid;
    watch(start);
    result_.wall_s = std::chrono::duration<double>(Clock::now() - start).count();
    return result_;
  }

 private:
  static std::optional<ProcessResult> not_started(std::string* why, std::string text) {
    *why = std::move(text);
    return std::nullopt;
  }

  void watch(Clock::time_point start) {
    const auto deadline =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(spec_.wall_timeout_s));
    std::optional<Clock::time_point> stop_at;  // the grace after the end or the kill
    auto ended = [&] {
      kill_group();  // anything the child left in its group
      if (!stop_at) stop_at = Clock::now() + kDrainGrace;
    };
    while (!(eof_ && (status_ || lost_))) {
      const auto now = Clock::now();
      if (stop_at && now >= *stop_at) break;
      if (!stop_at && now >= deadline) {
        result_.timed_out = true;
        ended();
      }
      if (!stop_at && spec_.cancel && spec_.cancel->load()) {
        result_.cancelled = true;
        ended();
      }
      pollfd fds[2] = {{eof_ ? -1 : out_.get(), POLLIN, 0}, {status_ || lost_ ? -1 : conn_.get(), POLLIN, 0}};
      if (::poll(fds, 2, kTick) < 0 && errno != EINTR) break;
      if (fds[0].revents) read_stdout();
      if (fds[1].revents) {
        read_status();
        ended();
      }
    }
    if (!buf_.empty()) on_line_(buf_);
    if (!status_ && !lost_) {
      // Killed, and the grace passed with the pipe still open: the child's
      // end comes from the zygote (SIGKILL cannot be ignored).
      kill_group();
      if (readable_by(conn_.get(), Clock::now() + std::chrono::seconds(30)))
        read_status();
      else
        lost_ = true;
    }
    if (lost_) {
      // The zygote died: its child got SIGKILL with it; be sure it is gone
      // before anyone runs the job again.
      kill_group();
      if (pidfd_.get() >= 0) readable_by(pidfd_.get(), Clock::now() + std::chrono::seconds(30));
      result_.lost = fmt::format("the warm runner died during the job (its process {} was killed with it)", pid_);
    }
  }

  void read_stdout() {
    char chunk[65536];
    const ssize_t n = ::read(out_.get(), chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) return;
    if (n <= 0) {
      eof_ = true;
      return;
    }
    buf_.append(chunk, static_cast<size_t>(n));
    size_t from = 0;
    for (size_t nl; (nl = buf_.find('\n', from)) != std::string::npos; from = nl + 1)
      on_line_(std::string_view(buf_).substr(from, nl - from));
    buf_.erase(0, from);
    while (buf_.size() >= kMaxLine) {  // a line longer than kMaxLine, in pieces
      on_line_(std::string_view(buf_).substr(0, kMaxLine));
      buf_.erase(0, kMaxLine);
    }
  }

  // The zygote's `exit` report on the connection; anything else (its end
  // of file) means it died.
  void read_status() {
    const auto packet = wire::recv_packet(conn_.get());
    const auto reply = packet ? wire::decode_reply(*packet) : std::nullopt;
    if (reply && reply->kind == wire::Reply::Kind::exit)
      record(reply->wait_status);
    else
      lost_ = true;
  }

  void record(int status) {
    status_ = status;
    if (WIFSIGNALED(status))
      result_.signal = WTERMSIG(status);
    else if (WIFEXITED(status))
      result_.exit_code = WEXITSTATUS(status);
  }

  void kill_group() {
    if (pid_ > 0) ::kill(-pid_, SIGKILL);
  }

  const ProcessSpec& spec_;
  const std::function<void(std::string_view)>& on_line_;
  Fd out_, conn_, pidfd_;
  pid_t pid_ = -1;
  std::string buf_;
  bool eof_ = false, lost_ = false;
  std::optional<int> status_;
  ProcessResult result_;
};

}  // namespace

WarmRunnerLauncher::WarmRunnerLauncher(ProcessLauncher& real, WarmRunnerOptions options)
    : real_(real), o_(std::move(options)) {
  const char* tmp = std::getenv("TMPDIR");
  const fs::path parent = tmp && *tmp ? tmp : "/tmp";
  remove_orphaned_folders(parent);
  std::string templ = (parent / fmt::format("{}{}-XXXXXX", kFolderPrefix, ::getpid())).string();
  if (!::mkdtemp(templ.data()))
    throw std::runtime_error(
        fmt::format("cannot make a folder for the warm runner's socket ({}): {}; set TMPDIR "
                    "to a writable folder, or turn the warm runner off (--warm-runner off)",
                    templ, errno_text()));
  dir_ = templ;  // 0700: only this user may reach the sockets
}

WarmRunnerLauncher::~WarmRunnerLauncher() {
  {
    std::lock_guard lock(mu_);
    zygotes_.clear();
  }
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

void WarmRunnerLauncher::log(const std::string& line) {
  if (o_.log)
    o_.log(line);
  else
    std::fprintf(stderr, "warm runner: %s\n", line.c_str());
}

std::optional<pid_t> WarmRunnerLauncher::zygote_pid(const std::map<std::string, std::string>& env) {
  ProcessSpec spec;
  spec.exe = o_.runner;
  spec.env = env;
  std::lock_guard lock(mu_);
  const auto it = zygotes_.find(key_of(spec));
  if (it == zygotes_.end() || !it->second) return std::nullopt;
  return it->second->child->pid();
}

void WarmRunnerLauncher::set_broken(const std::string& key, std::string why) {
  broken_[key] = Broken{Clock::now() + kRetryAfter, std::move(why)};
}

std::shared_ptr<WarmRunnerLauncher::Zygote> WarmRunnerLauncher::acquire(const ProcessSpec& spec) {
  std::lock_guard lock(mu_);
  const std::string key = key_of(spec);
  if (const auto b = broken_.find(key); b != broken_.end()) {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(b->second.until - Clock::now()).count();
    if (left > 0) {
      log(fmt::format("no warm runner for the next {} s ({}); the job runs fresh", left, b->second.why));
      return nullptr;
    }
    broken_.erase(b);
  }
  auto& slot = zygotes_[key];
  if (slot && !slot->child->running()) {
    log(fmt::format("the warm runner (pid {}) has ended; starting another", slot->child->pid()));
    slot.reset();
  }
  if (slot && identity_of(spec.exe) != slot->identity) {
    log(fmt::format("{} changed on disk since the warm runner (pid {}) started; starting another", spec.exe.string(),
                    slot->child->pid()));
    slot.reset();  // its running jobs keep it until they end
  }
  if (slot) return slot;
  auto z = std::make_shared<Zygote>();
  const unsigned n = ++started_;
  z->socket = dir_ / fmt::format("zygote-{}.sock", n);
  ProcessSpec zs;
  zs.exe = spec.exe;
  zs.args = {"zygote", "--socket", z->socket.string()};
  zs.env = spec.env;
  zs.stderr_file = dir_ / fmt::format("zygote-{}.log", n);
  try {
    z->child = real_.start_piped(zs);
  } catch (const std::exception& e) {
    log(fmt::format("cannot start a warm runner ({}); the job runs fresh", e.what()));
    set_broken(key, fmt::format("it could not be started: {}", e.what()));
    return nullptr;
  }
  z->lifeline = Fd(z->child->take_stdin());
  const Fd out(z->child->take_stdout());
  std::string line;
  const auto until =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o_.ready_timeout_s));
  char c;
  while (readable_by(out.get(), until) && ::read(out.get(), &c, 1) == 1 && c != '\n') line += c;
  if (line.rfind("ready ", 0) != 0) {
    std::string err;
    if (FILE* f = std::fopen(zs.stderr_file.c_str(), "r")) {
      char buf[2048];
      err.assign(buf, std::fread(buf, 1, sizeof buf, f));
      std::fclose(f);
    }
    log(fmt::format("the warm runner (pid {}) did not become ready within {:.0f} s{}{}; the job runs fresh",
                    z->child->pid(), o_.ready_timeout_s, err.empty() ? "" : ": ", err));
    set_broken(key, "the last one did not become ready");
    return nullptr;
  }
  z->identity = line.substr(6);
  slot = z;
  if (o_.log_starts) log(fmt::format("started a warm runner (pid {}) for {}", z->child->pid(), spec.exe.string()));
  return slot;
}

ProcessResult WarmRunnerLauncher::run(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line) {
  if (spec.exe != o_.runner || spec.cpu_limit_s > 0) return real_.run(spec, on_line);
  const auto zygote = acquire(spec);
  if (!zygote) return real_.run(spec, on_line);
  std::string why;
  bool refused = false;
  if (auto result = ZygoteJob(spec, on_line).run(*zygote, &why, &refused)) return *result;
  log(fmt::format("the warm runner (pid {}) did not start the job ({}); it runs fresh", zygote->child->pid(), why));
  if (refused) {
    std::lock_guard lock(mu_);
    set_broken(key_of(spec), "the last one refused a job: " + why);
  }
  return real_.run(spec, on_line);
}

std::unique_ptr<ProcessLauncher> make_runner_launcher(bool on, ProcessLauncher& real,
                                                      std::function<void(std::string_view)> log, bool log_starts) {
  if (!on) return nullptr;
  return std::make_unique<WarmRunnerLauncher>(real, WarmRunnerOptions{paths::runner(), std::move(log), 60, log_starts});
}

}  // namespace torchexam
