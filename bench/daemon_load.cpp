// bench/daemon_load — how torchexamd answers many clients at once.
//
// Starts its own torchexamd (temporary socket and state folder), opens a
// practice session on environments/practice in a temporary workspace, and
// then has C concurrent client connections call exam/status N times each,
// back to back (closed loop) or on a schedule (open loop, --rate). Prints the
// per-call latency (p50, p99, max) and the requests per second of each row.
//
// With --train, the fashion_mnist reference solution is submitted first and
// the measurement starts once its training has begun, so the daemon answers
// while a grading job runs (and broadcasts its progress to every client);
// the report says whether a job was running, from the queue in the status
// replies themselves.
//
// The load comes from one event loop driving every connection (--load loop,
// the default), from a thread per client (--load threads), or from both in
// turn, loop / threads / loop, in one run (--load both). The event loop
// parses every message it receives as JSON (--check full, rows "loop"), or
// looks only at the bytes it needs: which kind of message, and whether the
// queue shows a running job (--check light, rows "light"; anything not
// shaped like a status reply is still parsed); --check both runs each. The
// parse is most of the load generator's CPU, which shares the 2 cores with
// the daemon. Each row also prints the daemon's own CPU time per call (from
// /proc), the service time that bounds how fast 200 outstanding requests
// can be answered, and where the time went (see "Where the time goes").
//
// Several daemons can be compared in one run (the machine is noisy): each
// --variant LABEL=PATH [ARGS...] is started fresh (with its own training job
// under --train) and measured in turn, --rounds times: A B A B ...
//
// Where the time goes, per row: the CPU per call of the daemon and of the
// load generator; how long the daemon's io thread and the loop's thread
// each sat runnable but off a CPU, per call (run-queue wait, from
// /proc/<pid>/task/<tid>/schedstat), and how busy each was (CPU / wall);
// how many of the 2 CPUs the grading job, other processes and the
// hypervisor (steal) took; where the outstanding requests waited (Little's
// law: sampled every 5 ms, how many connections had a request the daemon
// had not read yet, SIOCOUTQ, and how many had a reply this program had not
// read yet, SIOCINQ); p99 of the calls during which a broadcast
// notification arrived on the connection; and the stalls, spans of over
// 2 ms in which no reply arrived at all, each put down to the side that was
// not running (see Measurement). With 200 connections one stall delays 200
// calls, 1% of 20000: p99 is about the longest stall. With --rounds > 1 a
// summary gives each variant's median p50 and p99 over the rounds.
//
// Usage: daemon_load [--clients C] [--calls N] [--train] [--rate R[,R...]] [--concurrency J]
//                    [--load loop|threads|both] [--check full|light|both] [--job-nice N]
//                    [--watcher none|inotify] [--daemon PATH] [--source DIR] [--cache DIR]
//                    [--variant 'LABEL=[NAME=VALUE...] PATH [ARGS...]']... [--rounds R]
//                    [--procs P[,P...]] [--loop-slice-us US]
//   (daemon_load --help describes each.)
//   --rate: 0 (the default) is a closed loop, each client calling again as
//   soon as its reply lands, so the run is at saturation and by Little's law
//   the mean latency is C / (requests/s): it measures how many calls the
//   2 cores, shared with the training job and this load generator, get
//   through. R > 0 is an open loop at R requests/s in all: each client calls
//   on a fixed schedule (every C/R s, the clients staggered), a call's
//   latency runs from when it was due, so a late reply shows in full and
//   does not hold back the next request. Several rates give a row each.
//   defaults: 200 clients, 50 calls, no training, 1 grading job, no watcher,
//   1 round; the daemon, the source tree and the build cache default to
//   this build's (DAEMON_LOAD_TORCHEXAMD, DAEMON_LOAD_SOURCE_DIR,
//   DAEMON_LOAD_CACHE_DIR). A variant's ARGS are passed to its torchexamd;
//   of the benchmark's own options (--concurrency, --watcher, --job-nice)
//   those that ARGS name are left out, so a variant can set them itself.
//   Each daemon runs in a session of its own (setsid, as `torchexam` starts
//   it), unless ARGS hold --bench-shared-session (not passed on).
//   --procs P[,P...]: the loop rows' connections spread over P load
//   processes, each with its own event loop (rows "loop/Pp"), as clients
//   that are separate programs are; the stall columns then count each
//   process's own stalls.
//   --loop-slice-us gives the load generator's loop thread a short time
//   slice (as torchexamd --io-slice-us does for the daemon), so that its own
//   wake-ups are not held up behind the grading job until the next tick.
#include "base/thread_sched.hpp"
#include "client/client.hpp"
#include "protocol/messages.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <linux/sockios.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <deque>
#include <fstream>
#include <latch>
#include <map>
#include <numeric>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
namespace asio = boost::asio;
using namespace torchexam;
using SteadyClock = std::chrono::steady_clock;

namespace {

#ifdef DAEMON_LOAD_TORCHEXAMD
constexpr const char* kDaemon = DAEMON_LOAD_TORCHEXAMD;
#else
constexpr const char* kDaemon = "";
#endif
#ifdef DAEMON_LOAD_SOURCE_DIR
constexpr const char* kSource = DAEMON_LOAD_SOURCE_DIR;
#else
constexpr const char* kSource = "";
#endif
#ifdef DAEMON_LOAD_CACHE_DIR
constexpr const char* kCache = DAEMON_LOAD_CACHE_DIR;
#else
constexpr const char* kCache = "";
#endif

// A torchexamd to measure: its label in the table, its binary, and extra
// arguments.
struct Variant {
  std::string label;
  fs::path daemon;
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;  // set in its environment (NAME=VALUE before PATH)
  // The daemon runs in a session of its own (setsid), as the CLI's autostart
  // starts it: with Linux's autogroup scheduling its threads and its jobs
  // then share one group's CPU share, and this program has its own. The
  // pseudo-argument --bench-shared-session (not passed on) keeps it in this
  // program's session and group instead, as before.
  bool own_session = true;
};

struct Options {
  std::string load = "loop";  // loop: one event loop drives every connection; threads: a thread per client
  std::string check = "full";  // loop: parse every message (full) or only look at the bytes it needs (light)
  int clients = 200;
  int calls = 50;
  int rounds = 1;
  bool train = false;
  int concurrency = 1;
  int job_nice = 10;  // torchexamd's default
  int loop_slice_us = 0;  // the loop thread's time slice (0: the kernel's default)
  std::vector<int> procs{1};  // loop rows: processes the connections are spread over
  std::string watcher = "none";
  fs::path daemon = kDaemon;
  fs::path source = kSource;
  fs::path cache = kCache;
  std::vector<Variant> variants;
  std::vector<double> rates{0};  // requests/s offered; 0: closed loop
};

[[noreturn]] void usage(const std::string& why) {
  fmt::print(stderr, "daemon_load: {}\n(see daemon_load --help)\n", why);
  std::exit(2);
}

Variant parse_variant(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) usage("--variant wants LABEL=PATH [ARGS...], not '" + text + "'");
  Variant v;
  v.label = text.substr(0, eq);
  std::istringstream words(text.substr(eq + 1));
  std::string w;
  while ((words >> w) && w.find('=') != std::string::npos && w.front() != '/' && w.front() != '.') {
    const size_t e = w.find('=');
    v.env.emplace_back(w.substr(0, e), w.substr(e + 1));
  }
  if (w.empty() || w.find('=') != std::string::npos) usage("--variant " + v.label + ": no path");
  v.daemon = w;
  while (words >> w) {
    if (w == "--bench-shared-session") v.own_session = false;
    else v.args.push_back(w);
  }
  return v;
}

// Returns nullopt when CLI11 has answered (--help) or refused the command
// line; `exit_code` is then what main returns.
std::optional<Options> parse(int argc, char** argv, int& exit_code) {
  Options o;
  std::vector<std::string> variants;
  CLI::App app{"daemon_load: how torchexamd answers many clients at once (exam/status from C connections), "
               "optionally while it trains the fashion_mnist reference; see the header of bench/daemon_load.cpp "
               "and docs/benchmarks.md"};
  app.add_option("--clients", o.clients, "client connections")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--calls", o.calls, "exam/status calls per connection")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--rounds", o.rounds, "times each variant is measured, in turn (A B A B ...)")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
  app.add_flag("--train", o.train, "measure while the daemon trains the fashion_mnist reference");
  app.add_option("--concurrency", o.concurrency, "torchexamd --concurrency")->capture_default_str();
  app.add_option("--load", o.load,
                 "loop: one event loop drives every connection; threads: a thread and a blocking client per "
                 "connection (closed loop only); both: loop, threads, loop")
      ->check(CLI::IsMember({"loop", "threads", "both"}))
      ->capture_default_str();
  app.add_option("--check", o.check,
                 "how the loop reads replies: full (parse each as JSON, rows 'loop'), light (look only at the bytes "
                 "it needs, rows 'light'), both")
      ->check(CLI::IsMember({"full", "light", "both"}))
      ->capture_default_str();
  app.add_option("--rate", o.rates,
                 "requests/s offered in all, comma-separated for several rows; 0 = closed loop (each client calls "
                 "again as soon as its reply lands: saturation); R > 0 = open loop (each client calls every C/R s, "
                 "latency from the scheduled time)")
      ->delimiter(',')
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--job-nice", o.job_nice, "torchexamd --job-nice")->capture_default_str();
  app.add_option("--watcher", o.watcher, "torchexamd --watcher")
      ->check(CLI::IsMember({"none", "inotify"}))
      ->capture_default_str();
  app.add_option("--daemon", o.daemon, "the torchexamd to measure (when no --variant is given)")->capture_default_str();
  app.add_option("--source", o.source, "the TorchExam source tree")->capture_default_str();
  app.add_option("--cache", o.cache, "build cache for the training job (TORCHEXAM_CACHE_DIR)")->capture_default_str();
  app.add_option("--variant", variants,
                 "'LABEL=[NAME=VALUE...] PATH [ARGS...]': a torchexamd to compare, with NAME=VALUE in its environment, started fresh for each round; ARGS go to it "
                 "(--bench-shared-session keeps it in this program's session); repeat for several");
  app.add_option("--procs", o.procs,
                 "spread the connections of the loop rows over P load processes (one event loop each, all in this "
                 "program's session), as independent clients are; 1: one loop drives them all; comma-separated "
                 "for several rows")
      ->delimiter(',')
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--loop-slice-us", o.loop_slice_us,
                 "time slice of the load generator's loop thread (0: the kernel's default)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }
  for (const auto& v : variants) o.variants.push_back(parse_variant(v));
  if (o.variants.empty()) o.variants.push_back({"daemon", o.daemon, {}, {}, true});
  for (const auto& v : o.variants)
    if (v.daemon.empty()) usage("no torchexamd: pass --daemon PATH");
  if (o.source.empty()) usage("no source tree: pass --source DIR");
  if (o.rates.empty()) o.rates = {0};
  return o;
}

// The daemon we started, and the temporary folder it works in; both go away
// with this object even when the benchmark fails half-way.
class Daemon {
 public:
  Daemon(const Options& o, const Variant& variant, fs::path root) : root_(std::move(root)) {
    fs::create_directories(root_ / "state");
    socket_ = root_ / "run" / "daemon.sock";
    log_ = root_ / "torchexamd.log";
    // Everything the child needs is prepared before fork (no allocation after).
    const std::string state = (root_ / "state").string(), cache = o.cache.string();
    const bool own_session = variant.own_session;
    const auto& env = variant.env;
    std::vector<std::string> args{variant.daemon.string(), "--socket", socket_.string(), "--state-dir", state};
    auto own = [&](const std::string& name, const std::string& value) {
      if (std::find(variant.args.begin(), variant.args.end(), name) != variant.args.end()) return;
      args.push_back(name);
      args.push_back(value);
    };
    own("--concurrency", std::to_string(o.concurrency));
    own("--watcher", o.watcher);
    own("--job-nice", std::to_string(o.job_nice));
    args.insert(args.end(), variant.args.begin(), variant.args.end());
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("cannot fork");
    if (pid_ == 0) {
      if (own_session) ::setsid();
      ::setenv("TORCHEXAM_STATE_DIR", state.c_str(), 1);
      if (!cache.empty()) ::setenv("TORCHEXAM_CACHE_DIR", cache.c_str(), 1);
      ::unsetenv("TORCHEXAM_SOCKET");
      for (const auto& [name, value] : env) ::setenv(name.c_str(), value.c_str(), 1);
      FILE* log = std::fopen(log_.c_str(), "w");
      if (log) {
        ::dup2(::fileno(log), 1);
        ::dup2(::fileno(log), 2);
      }
      ::execv(argv[0], argv.data());
      std::fprintf(stderr, "cannot run %s\n", argv[0]);
      ::_exit(127);
    }
  }

  ~Daemon() {
    stop(std::chrono::seconds(0));
    std::error_code ec;
    fs::remove_all(root_, ec);
  }

  // Waits up to 10 s for the daemon to listen.
  std::unique_ptr<Client> connect() {
    const auto until = SteadyClock::now() + std::chrono::seconds(10);
    for (;;) {
      try {
        return Client::connect(socket_);
      } catch (const ConnectError&) {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) {
          pid_ = -1;
          throw std::runtime_error("torchexamd exited at start:\n" + log_tail());
        }
        if (SteadyClock::now() > until) throw std::runtime_error("torchexamd did not listen within 10 s:\n" + log_tail());
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }

  // Waits up to `grace` for the daemon to exit by itself, then SIGTERM, then
  // SIGKILL. True when it exited within the grace time.
  bool stop(std::chrono::seconds grace) {
    if (pid_ <= 0) return true;
    bool clean = false;
    auto wait_for = [this](std::chrono::milliseconds d) {
      const auto until = SteadyClock::now() + d;
      do {
        int status = 0;
        if (::waitpid(pid_, &status, WNOHANG) == pid_) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      } while (SteadyClock::now() < until);
      return false;
    };
    if (wait_for(grace)) clean = true;
    else {
      ::kill(pid_, SIGTERM);
      if (!wait_for(std::chrono::seconds(5))) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, nullptr, 0);
      }
    }
    pid_ = -1;
    return clean;
  }

  std::string log_tail() const {
    std::ifstream in(log_);
    std::string all((std::istreambuf_iterator<char>(in)), {});
    return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
  }
  const fs::path& socket() const { return socket_; }
  pid_t pid() const { return pid_; }

 private:
  fs::path root_, socket_, log_;
  pid_t pid_ = -1;
};

std::string slurp(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

// CPU seconds process `pid` has used so far (user + system, all its threads).
double process_cpu_seconds(pid_t pid) {
  const std::string text = slurp(fmt::format("/proc/{}/stat", pid));
  const size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string f;
  double utime = 0, stime = 0;
  for (int i = 3; fields >> f; ++i) {  // field 3 is the state
    if (i == 14) utime = std::stod(f);
    if (i == 15) {
      stime = std::stod(f);
      break;
    }
  }
  return (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

// One thread's scheduler statistics: seconds on a CPU, seconds runnable but
// waiting for one (the run queue), and how many times it was scheduled.
struct SchedStat {
  double run_s = 0, wait_s = 0;
  double slices = 0;
};
SchedStat sched_stat(pid_t pid, pid_t tid) {
  std::istringstream in(slurp(fmt::format("/proc/{}/task/{}/schedstat", pid, tid)));
  SchedStat s;
  in >> s.run_s >> s.wait_s >> s.slices;
  s.run_s /= 1e9;
  s.wait_s /= 1e9;
  return s;
}

// The machine's CPU time by kind, in seconds summed over all CPUs.
struct MachineCpu {
  double total = 0, nice = 0, steal = 0, idle = 0;
};
MachineCpu machine_cpu() {
  std::istringstream in(slurp("/proc/stat"));
  std::string cpu;
  double user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
  in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal;
  const double hz = static_cast<double>(::sysconf(_SC_CLK_TCK));
  return {(user + nice + system + idle + iowait + irq + softirq + steal) / hz, nice / hz, steal / hz,
          (idle + iowait) / hz};
}

// CPU seconds used so far by the living descendants of `pid` (the grading
// job's supervisor, runner and compiler), from /proc.
double descendants_cpu_seconds(pid_t root) {
  std::map<pid_t, pid_t> parent;
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.empty() || !std::isdigit(static_cast<unsigned char>(name[0]))) continue;
    const std::string text = slurp("/proc/" + name + "/stat");
    const size_t close = text.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream fields(text.substr(close + 2));
    std::string state;
    pid_t ppid = 0;
    fields >> state >> ppid;
    parent[std::atoi(name.c_str())] = ppid;
  }
  double total = 0;
  for (const auto& [pid, ppid] : parent) {
    pid_t p = ppid;
    for (int depth = 0; depth < 64 && p > 1 && p != root; ++depth) {
      auto it = parent.find(p);
      p = it == parent.end() ? 0 : it->second;
    }
    if (p == root) total += process_cpu_seconds(pid);
  }
  return total;
}

// This program's CPU seconds, with those of its load processes that have
// ended (--procs).
double own_cpu_seconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    rusage u{};
    ::getrusage(who, &u);
    total += static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
             static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  }
  return total;
}

bool job_running(const json::value& status) {
  for (const auto& q : status.at("queue").as_array())
    if (q.at("state").as_string() == "running") return true;
  return false;
}

std::string queue_text(const json::value& status) {
  std::string out;
  for (const auto& q : status.at("queue").as_array())
    out += fmt::format("{}#{} {} ", std::string(q.at("task").as_string()), q.at("submission").as_int64(),
                       std::string(q.at("state").as_string()));
  return out.empty() ? "empty" : out.substr(0, out.size() - 1);
}

// The newest stage of submission `id` in the progress notifications queued
// on `c` ("" when none); waits up to `wait` for the first one.
std::string drain_stage(Client& c, int64_t id, std::chrono::milliseconds wait, std::string stage = "") {
  while (auto n = c.next_notification(wait)) {
    wait = std::chrono::milliseconds(1);
    if (n->method != protocol::method::submission_progress) continue;
    const auto& p = n->params.as_object();
    if (p.at("submission").as_int64() == id) stage = std::string(p.at("stage").as_string());
  }
  return stage;
}

double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) return 0;
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

struct Measurement {
  std::vector<double> latency_ms;
  std::vector<double> noted_ms;  // the calls during which a notification arrived on the connection (loop only)
  int running = 0;  // replies whose queue showed a running job
  int errors = 0;
  std::string first_error;
  double wall_s = 0;
  SchedStat bench_thread;  // the load generator's thread (loop only)
  // Where the outstanding requests were, sampled every few milliseconds
  // (loop only): waiting for the daemon (request bytes it has not read yet)
  // or for the load generator (reply bytes it has not read yet).
  std::vector<double> at_daemon, at_bench;
  // Stalls (loop only): spans of more than 2 ms in which no reply at all
  // arrived. With every connection waiting, one stall delays every call in
  // flight, so with 200 connections one stall is 1% of 20000 calls: p99 is
  // about the longest stall. Each is put down to the side that was not
  // running: when it ends, most connections have a reply waiting for us
  // (this program was off the CPU while the daemon answered) or a request
  // waiting for the daemon.
  std::vector<int> fds;
  SteadyClock::time_point last_reply{};
  std::vector<double> stall_ms;
  int stalls_at_daemon = 0, stalls_at_bench = 0;
  void reply_arrived(SteadyClock::time_point now) {
    if (last_reply != SteadyClock::time_point{}) {
      const double gap = std::chrono::duration<double, std::milli>(now - last_reply).count();
      if (gap > 2.0) {
        stall_ms.push_back(gap);
        int daemon_side = 0, bench_side = 0;
        for (int fd : fds) {
          int unread_by_daemon = 0, unread_by_us = 0;
          if (::ioctl(fd, SIOCOUTQ, &unread_by_daemon) == 0 && unread_by_daemon > 0) ++daemon_side;
          if (::ioctl(fd, SIOCINQ, &unread_by_us) == 0 && unread_by_us > 0) ++bench_side;
        }
        ++(bench_side > daemon_side ? stalls_at_bench : stalls_at_daemon);
      }
    }
    last_reply = SteadyClock::now();
  }
};

// A thread and a blocking Client per client: simple, but on a small machine
// the load generator's own threads compete with the daemon for the cores.
Measurement measure_threads(const Options& o, const fs::path& socket, const std::string& session) {
  // Every client connects first; the clock starts when all are connected.
  std::vector<Measurement> results(o.clients);
  std::latch ready(o.clients), go(1);
  std::vector<std::thread> threads;
  threads.reserve(o.clients);
  for (int i = 0; i < o.clients; ++i) {
    threads.emplace_back([&, i] {
      Measurement& r = results[i];
      r.latency_ms.reserve(o.calls);
      std::unique_ptr<Client> c;
      for (int attempt = 0; !c && attempt < 50; ++attempt) {
        try {
          c = Client::connect(socket);
        } catch (const ConnectError& e) {
          r.first_error = e.what();
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      ready.count_down();
      go.wait();
      if (!c) {
        r.errors = o.calls;
        return;
      }
      const json::value params = json::object{{"session", session}};
      for (int k = 0; k < o.calls; ++k) {
        const auto t0 = SteadyClock::now();
        try {
          json::value st = c->call(protocol::method::exam_status, params);
          r.latency_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
          if (job_running(st)) ++r.running;
        } catch (const std::exception& e) {
          if (r.errors++ == 0) r.first_error = e.what();
          if (dynamic_cast<const protocol::RpcError*>(&e) == nullptr) {
            r.errors += o.calls - k - 1;  // the connection is gone
            break;
          }
        }
      }
    });
  }
  ready.wait();
  const auto start = SteadyClock::now();
  go.count_down();
  for (auto& t : threads) t.join();
  Measurement out;
  out.wall_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  for (auto& r : results) {
    out.latency_ms.insert(out.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    out.running += r.running;
    out.errors += r.errors;
    if (out.first_error.empty()) out.first_error = r.first_error;
  }
  return out;
}

// One thread drives every connection through one event loop. Closed loop
// (rate 0): each client has one request outstanding and sends the next the
// moment its reply lands, so the run measures the machine at saturation;
// the load generator costs a few microseconds per call instead of a context
// switch per client. Open loop (rate R > 0): each of the C clients sends on
// its own schedule, one request every C/R seconds, staggered so that the
// machine sees R requests/s in all, whether or not the earlier replies have
// arrived (a late reply does not delay the next request: no coordinated
// omission), and a call's latency runs from the time it was scheduled, not
// from when it was written.
class LoopClient : public std::enable_shared_from_this<LoopClient> {
 public:
  LoopClient(asio::io_context& io, int calls, bool light, std::string request, Measurement& m)
      : socket_(io), timer_(io), calls_left_(calls), to_send_(calls), light_(light), request_(std::move(request)),
        m_(m) {}
  asio::local::stream_protocol::socket& socket() { return socket_; }

  // Closed loop when `interval` is zero; otherwise the first request goes out
  // at `first` and one more every `interval`.
  void start(SteadyClock::time_point first, SteadyClock::duration interval) {
    interval_ = interval;
    if (interval_ == SteadyClock::duration::zero()) return send(SteadyClock::now());
    next_ = first;
    receive();
    schedule();
  }

 private:
  void schedule() {
    if (to_send_ == 0) return;
    timer_.expires_at(next_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->calls_left_ == 0) return;
      const auto due = self->next_;
      self->next_ += self->interval_;
      self->send(due);
      self->schedule();
    });
  }
  void send(SteadyClock::time_point due) {
    --to_send_;
    due_.push_back(due);
    ++unwritten_;
    write();
  }
  // One write at a time on the socket; requests scheduled meanwhile go out
  // together after it.
  void write() {
    if (writing_ || unwritten_ == 0) return;
    writing_ = true;
    out_.clear();
    for (; unwritten_ > 0; --unwritten_) out_ += request_;
    asio::async_write(socket_, asio::buffer(out_), [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
      self->writing_ = false;
      if (ec) return self->fail(ec.message());
      if (self->interval_ == SteadyClock::duration::zero()) return self->receive();
      self->write();
    });
  }
  void receive() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
      if (ec) return self->fail(ec.message());
      self->reader_.feed(std::string_view(self->buf_.data(), n));
      const bool closed_loop = self->interval_ == SteadyClock::duration::zero();
      while (auto next = self->reader_.next()) {
        auto* frame = std::get_if<protocol::Frame>(&*next);
        if (!frame) return self->fail("bad framing from the daemon");
        const Reply r = self->light_ ? look_at(frame->body) : parse_reply(frame->body);
        if (r.kind == Reply::notification) {  // progress of the training job
          self->noted_ = true;
          continue;
        }
        if (self->due_.empty()) return self->fail("a reply to no request");
        const auto now = SteadyClock::now();
        self->m_.reply_arrived(now);
        const double ms = std::chrono::duration<double, std::milli>(now - self->due_.front()).count();
        self->due_.pop_front();
        self->m_.latency_ms.push_back(ms);
        if (self->noted_) self->m_.noted_ms.push_back(ms);
        self->noted_ = false;
        if (r.kind == Reply::error) {
          if (self->m_.errors++ == 0) self->m_.first_error = r.message;
        } else if (r.job_running) {
          ++self->m_.running;
        }
        if (--self->calls_left_ == 0) {
          self->timer_.cancel();
          return;
        }
        if (closed_loop) return self->send(now);
      }
      self->receive();
    });
  }
  struct Reply {
    enum Kind { notification, result, error } kind = notification;
    bool job_running = false;
    std::string message;  // of an error
  };
  static Reply parse_reply(const std::string& body) {
    // The DOM of a 2 KB status reply fits in a buffer on the stack: no
    // malloc per node (Boost.JSON's monotonic_resource), as a client that
    // parses many small messages would do it.
    alignas(std::max_align_t) unsigned char buffer[32768];
    json::monotonic_resource arena(buffer, sizeof buffer);
    json::value v = json::parse(body, &arena);
    const auto& obj = v.as_object();
    if (!obj.contains("id")) return {};
    if (obj.contains("error")) return {Reply::error, false, json::serialize(obj.at("error"))};
    return {Reply::result, job_running(obj.at("result")), ""};
  }
  // What parse_reply finds, from the bytes alone: the daemon writes
  // {"jsonrpc":"2.0","id":1,"result":{...,"queue":[{...,"state":"running",...}],...}}
  // (docs/protocol.md: field order and spelling are fixed), and anything
  // else gets a full parse.
  static Reply look_at(const std::string& body) {
    constexpr std::string_view result_head = R"({"jsonrpc":"2.0","id":1,"result":{)";
    if (body.compare(0, result_head.size(), result_head) != 0) return parse_reply(body);
    Reply r{Reply::result, false, ""};
    const size_t queue = body.find(R"("queue":[)", result_head.size());
    if (queue == std::string::npos) return parse_reply(body);
    const size_t end = body.find(']', queue);
    const size_t running = body.find(R"("state":"running")", queue);
    r.job_running = running != std::string::npos && running < end;
    return r;
  }
  void fail(const std::string& why) {
    if (calls_left_ == 0) return;
    if (m_.errors == 0) m_.first_error = why;
    m_.errors += calls_left_;
    calls_left_ = 0;
    timer_.cancel();
  }

  asio::local::stream_protocol::socket socket_;
  asio::steady_timer timer_;
  int calls_left_;  // replies still to come
  int to_send_;     // requests not yet scheduled
  bool light_;
  std::string request_;
  Measurement& m_;
  SteadyClock::duration interval_{};
  SteadyClock::time_point next_;               // open loop: when the next request is due
  std::deque<SteadyClock::time_point> due_;    // when each outstanding request was due, oldest first
  int unwritten_ = 0;                          // requests due but not yet handed to a write
  bool writing_ = false;
  std::string out_;                            // the bytes of the write in flight
  protocol::FrameReader reader_;
  std::array<char, 65536> buf_;
  bool noted_ = false;
};

// The clients one load process drives: of the C clients, numbered 0..C-1,
// those with number % count == index.
struct Share {
  int index = 0, count = 1;
};

// `rate` 0: closed loop; otherwise the requests/s offered in all (open loop).
// `ready` runs once the share's clients are connected, before the clock
// starts (the multi-process load waits there for every process).
Measurement measure_loop(const Options& o, bool light, double rate, const fs::path& socket,
                         const std::string& session, Share share = {}, const std::function<void()>& ready = {}) {
  asio::io_context io;
  Measurement m;
  m.latency_ms.reserve(static_cast<size_t>(o.clients) * o.calls);
  const std::string request = protocol::encode_frame(
      protocol::make_request(1, protocol::method::exam_status, json::object{{"session", session}}));
  std::vector<std::shared_ptr<LoopClient>> clients;
  std::vector<int> numbers;  // each client's number among the C
  for (int i = share.index; i < o.clients; i += share.count) {
    auto c = std::make_shared<LoopClient>(io, o.calls, light, request, m);
    c->socket().connect(asio::local::stream_protocol::endpoint(socket.string()));
    clients.push_back(std::move(c));
    numbers.push_back(i);
  }
  if (ready) ready();
  if (o.loop_slice_us > 0)
    if (auto why = set_thread_slice(o.loop_slice_us); !why.empty()) fmt::print("loop thread keeps its slice: {}\n", why);
  for (auto& c : clients) m.fds.push_back(c->socket().native_handle());
  const auto& fds = m.fds;
  const SchedStat before = sched_stat(::getpid(), static_cast<pid_t>(::gettid()));
  const auto start = SteadyClock::now();
  // Open loop: client i's requests are due at start + (i + k * C) / R.
  const auto interval = rate > 0 ? std::chrono::duration_cast<SteadyClock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(o.clients) / rate))
                                 : SteadyClock::duration::zero();
  for (size_t i = 0; i < clients.size(); ++i)
    clients[i]->start(start + interval * static_cast<int64_t>(numbers[i]) / static_cast<int64_t>(o.clients), interval);
  // Little's law per stage: the share of the outstanding requests that wait
  // at the daemon is the share of the latency spent there. SIOCOUTQ on a
  // Unix stream socket counts bytes sent and not yet read by the peer.
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      int daemon_side = 0, bench_side = 0;
      for (int fd : fds) {
        int unread_by_daemon = 0, unread_by_us = 0;
        if (::ioctl(fd, SIOCOUTQ, &unread_by_daemon) == 0 && unread_by_daemon > 0) ++daemon_side;
        if (::ioctl(fd, SIOCINQ, &unread_by_us) == 0 && unread_by_us > 0) ++bench_side;
      }
      if (done.load()) break;
      m.at_daemon.push_back(daemon_side);
      m.at_bench.push_back(bench_side);
    }
  });
  io.run();
  m.wall_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  done = true;
  sampler.join();
  if (o.loop_slice_us > 0) set_thread_slice(0);
  const SchedStat after = sched_stat(::getpid(), static_cast<pid_t>(::gettid()));
  m.bench_thread = {after.run_s - before.run_s, after.wait_s - before.wait_s, after.slices - before.slices};
  return m;
}

// What a load process reports to the benchmark: its Measurement, with the
// Little's-law samples as their mean (samples of different processes are not
// taken at the same moments).
json::object to_json(const Measurement& m) {
  auto numbers = [](const std::vector<double>& v) { return json::value_from(v); };
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  return {{"latency_ms", numbers(m.latency_ms)},
          {"noted_ms", numbers(m.noted_ms)},
          {"running", m.running},
          {"errors", m.errors},
          {"first_error", m.first_error},
          {"wall_s", m.wall_s},
          {"run_s", m.bench_thread.run_s},
          {"wait_s", m.bench_thread.wait_s},
          {"slices", m.bench_thread.slices},
          {"at_daemon", mean(m.at_daemon)},
          {"at_bench", mean(m.at_bench)},
          {"stall_ms", numbers(m.stall_ms)},
          {"stalls_at_daemon", m.stalls_at_daemon},
          {"stalls_at_bench", m.stalls_at_bench}};
}

// Adds one load process's report to `m`. The loop threads' scheduler figures
// are summed (their CPU % is then over all processes), the sampled queue
// lengths summed as means, the stalls kept per process (a stall of one
// process holds up only its own connections).
void add(Measurement& m, const json::value& v) {
  const auto& o = v.as_object();
  auto doubles = [&](const char* key) { return json::value_to<std::vector<double>>(o.at(key)); };
  auto append = [](std::vector<double>& to, const std::vector<double>& from) { to.insert(to.end(), from.begin(), from.end()); };
  append(m.latency_ms, doubles("latency_ms"));
  append(m.noted_ms, doubles("noted_ms"));
  append(m.stall_ms, doubles("stall_ms"));
  m.running += static_cast<int>(o.at("running").as_int64());
  const int errors = static_cast<int>(o.at("errors").as_int64());
  if (errors && m.errors == 0) m.first_error = std::string(o.at("first_error").as_string());
  m.errors += errors;
  m.wall_s = std::max(m.wall_s, o.at("wall_s").as_double());
  m.bench_thread.run_s += o.at("run_s").as_double();
  m.bench_thread.wait_s += o.at("wait_s").as_double();
  m.bench_thread.slices += o.at("slices").as_double();
  if (m.at_daemon.empty()) m.at_daemon = {0}, m.at_bench = {0};
  m.at_daemon[0] += o.at("at_daemon").as_double();
  m.at_bench[0] += o.at("at_bench").as_double();
  m.stalls_at_daemon += static_cast<int>(o.at("stalls_at_daemon").as_int64());
  m.stalls_at_bench += static_cast<int>(o.at("stalls_at_bench").as_int64());
}

// The loop rows with --procs P > 1: P processes, each driving its share of
// the connections through its own event loop, started together once all are
// connected. Each process reports on a pipe of its own, as JSON.
Measurement measure_procs(const Options& o, int procs, bool light, double rate, const fs::path& socket,
                          const std::string& session) {
  if (procs <= 1) return measure_loop(o, light, rate, socket, session);
  int ready[2], go[2];
  if (::pipe(ready) != 0 || ::pipe(go) != 0) throw std::runtime_error("cannot make a pipe");
  std::vector<std::pair<pid_t, int>> children;  // pid, the read end of its report pipe
  for (int p = 0; p < procs; ++p) {
    int report[2];
    if (::pipe(report) != 0) throw std::runtime_error("cannot make a pipe");
    std::fflush(stdout);
    const pid_t pid = ::fork();
    if (pid < 0) throw std::runtime_error("cannot fork a load process");
    if (pid == 0) {
      ::close(report[0]);
      ::close(ready[0]);
      ::close(go[1]);
      int code = 0;
      try {
        Measurement m = measure_loop(o, light, rate, socket, session, {p, procs}, [&] {
          char c = 1;
          if (::write(ready[1], &c, 1) != 1) throw std::runtime_error("the benchmark is gone");
          if (::read(go[0], &c, 1) < 0) throw std::runtime_error("the benchmark is gone");  // EOF: go
        });
        const std::string text = json::serialize(to_json(m));
        for (size_t off = 0; off < text.size();) {
          const ssize_t n = ::write(report[1], text.data() + off, text.size() - off);
          if (n <= 0) break;
          off += static_cast<size_t>(n);
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "daemon_load: load process %d: %s\n", p, e.what());
        code = 1;
      }
      ::_exit(code);
    }
    ::close(report[1]);
    children.emplace_back(pid, report[0]);
  }
  ::close(ready[1]);
  ::close(go[0]);
  // Every process is connected (or gone) before any starts.
  for (int p = 0; p < procs; ++p) {
    char c;
    if (::read(ready[0], &c, 1) != 1) break;
  }
  ::close(ready[0]);
  ::close(go[1]);  // go: every process reads EOF
  Measurement m;
  for (auto [pid, fd] : children) {
    std::string text;
    std::array<char, 65536> buf;
    for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) text.append(buf.data(), static_cast<size_t>(n));
    ::close(fd);
    int status = 0;
    ::waitpid(pid, &status, 0);
    if (text.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (m.errors == 0) m.first_error = "a load process failed (see its message above)";
      m.errors += o.calls * (o.clients / procs);
      continue;
    }
    add(m, json::parse(text));
  }
  return m;
}

struct Totals {
  int errors = 0, running = 0;
  size_t calls = 0;
  // p50 and p99 of every row, by variant and load mode, for the summary.
  std::map<std::pair<std::string, std::string>, std::vector<std::pair<double, double>>> rows;
};

// Starts `variant`, opens a session, starts the training job (--train), runs
// each load mode and prints a row per mode.
void run_variant(const Options& o, const Variant& variant, int round, Totals& totals) {
  const fs::path root =
      fs::temp_directory_path() / fmt::format("torchexam-daemon-load-{}-{}-{}", ::getpid(), variant.label, round);
  Daemon daemon(o, variant, root);
  auto main_client = daemon.connect();
  const fs::path workspace = root / "workspace";
  json::value started = main_client->call(
      protocol::method::exam_start,
      json::object{{"environment", (o.source / "environments/practice").string()},
                   {"workspace", workspace.string()},
                   {"mode", "practice"}});
  const std::string session(started.at("session").as_string());

  int64_t submission = 0;
  std::string stage_before;
  if (o.train) {
    fs::copy_file(o.source / "environments/practice/fashion_mnist/reference.cpp",
                  workspace / "fashion_mnist" / "solution.cpp", fs::copy_options::overwrite_existing);
    json::value s = main_client->call(protocol::method::task_submit,
                                      json::object{{"session", session}, {"task", "fashion_mnist"}});
    submission = s.at("submission").as_int64();
    // Build (seconds with a warm cache), runner start, data load: wait for
    // the first "train" progress note.
    const auto until = SteadyClock::now() + std::chrono::minutes(5);
    while (stage_before != "train" && SteadyClock::now() < until) {
      stage_before = drain_stage(*main_client, submission, std::chrono::seconds(1), stage_before);
      json::value st = main_client->call(protocol::method::exam_status, json::object{{"session", session}});
      if (st.at("queue").as_array().empty()) break;  // finished (or failed) before training began
    }
    if (stage_before != "train") {
      json::value r = main_client->call(protocol::method::submission_get, json::object{{"submission", submission}});
      throw std::runtime_error(fmt::format("submission {} never reached training (state {}, message: {})\n{}",
                                           submission, json::serialize(r.at("state")),
                                           json::serialize(r.at("message")), daemon.log_tail()));
    }
  }
  const json::value before = main_client->call(protocol::method::exam_status, json::object{{"session", session}});

  // A loop mode is "loop" (full parse) or "light".
  std::vector<std::string> loops;
  if (o.check == "both") loops = {"loop", "light"};
  else loops = {o.check == "light" ? "light" : "loop"};
  // A row is a load mode at a rate ("threads" only closed loop); its label
  // is the mode, with "@R" for an open loop at R requests/s.
  // "/Pp" marks a loop row spread over P load processes (--procs).
  struct Row {
    std::string mode;
    double rate = 0;
    int procs = 1;
    std::string label;
  };
  auto rows_of = [&](const std::vector<std::string>& ms) {
    std::vector<Row> out;
    for (double rate : o.rates)
      for (int procs : o.procs)
        for (const auto& mode : ms) {
          std::string label = procs > 1 ? fmt::format("{}/{}p", mode, procs) : mode;
          if (rate > 0) label += fmt::format("@{:g}", rate);
          out.push_back({mode, rate, procs, label});
        }
    return out;
  };
  std::vector<Row> rows;
  if (o.load == "loop" || o.load == "both") rows = rows_of(loops);
  if (o.load == "threads" || o.load == "both") rows.push_back({"threads", 0, 1, "threads"});
  if (o.load == "both") {
    auto again = rows_of(loops);
    rows.insert(rows.end(), again.begin(), again.end());
  }
  int running = 0;
  size_t total = 0;
  for (const auto& row : rows) {
    const std::string& mode = row.mode;
    const double cpu_before = process_cpu_seconds(daemon.pid()), own_before = own_cpu_seconds();
    const double jobs_before = descendants_cpu_seconds(daemon.pid());
    const SchedStat io_before = sched_stat(daemon.pid(), daemon.pid());  // the io thread is the main thread
    const MachineCpu machine_before = machine_cpu();
    const bool loop = mode != "threads";
    const bool closed = row.rate == 0;
    Measurement m = loop ? measure_procs(o, row.procs, mode == "light", row.rate, daemon.socket(), session)
                         : measure_threads(o, daemon.socket(), session);
    const MachineCpu machine_after = machine_cpu();
    const SchedStat io_after = sched_stat(daemon.pid(), daemon.pid());
    const double daemon_cpu_s = process_cpu_seconds(daemon.pid()) - cpu_before, own_cpu_s = own_cpu_seconds() - own_before;
    const double jobs_cpu_s = descendants_cpu_seconds(daemon.pid()) - jobs_before;
    std::sort(m.latency_ms.begin(), m.latency_ms.end());
    std::sort(m.noted_ms.begin(), m.noted_ms.end());
    std::sort(m.at_daemon.begin(), m.at_daemon.end());
    std::sort(m.at_bench.begin(), m.at_bench.end());
    const auto& all = m.latency_ms;
    const double ok = static_cast<double>(all.size()), per_call = ok > 0 ? 1e6 / ok : 0.0;
    // Shares of the machine's CPU time over the row, in CPUs (2 = both cores).
    const double machine_s = machine_after.total - machine_before.total;
    const double cpus = machine_s / m.wall_s;
    auto in_cpus = [&](double s) { return m.wall_s > 0 ? s / m.wall_s : 0.0; };
    const double busy_s = machine_s - (machine_after.idle - machine_before.idle);
    const double others_s = std::max(0.0, busy_s - daemon_cpu_s - own_cpu_s - jobs_cpu_s -
                                              (machine_after.steal - machine_before.steal));
    auto mean = [](const std::vector<double>& v) {
      return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
    };
    auto dash = [loop](std::string text) { return loop ? text : std::string("-"); };
    // Stalls only mean something when every connection always waits on a
    // reply (closed loop); an open loop at a low rate has quiet spans anyway.
    auto stall = [loop, closed](std::string text) { return loop && closed ? text : std::string("-"); };
    fmt::print("{:>8} {:>14} {:>6} {:>6.2f} {:>6.2f} {:>6.2f} {:>6.0f} | {:>5.1f} {:>5.1f} | {:>5.1f} {:>5} | {:>4.0f} {:>4} | {:>5.2f} {:>5} | "
               "{:>4.2f} {:>4.2f} {:>4.2f} {:>4.2f} | {:>9} {:>9} | {:>5} {:>5} | {:>11} {:>6}\n",
               variant.label, row.label, all.size(), percentile(all, 0.50), percentile(all, 0.99),
               all.empty() ? 0.0 : all.back(), ok / m.wall_s, daemon_cpu_s * per_call, own_cpu_s * per_call,
               (io_after.wait_s - io_before.wait_s) * per_call, dash(fmt::format("{:.1f}", m.bench_thread.wait_s * per_call)),
               100.0 * (io_after.run_s - io_before.run_s) / m.wall_s,
               dash(fmt::format("{:.0f}", 100.0 * m.bench_thread.run_s / m.wall_s)),
               (io_after.slices - io_before.slices) / ok, dash(fmt::format("{:.2f}", m.bench_thread.slices / ok)),
               in_cpus(jobs_cpu_s),
               in_cpus(others_s), in_cpus(machine_after.steal - machine_before.steal),
               std::max(0.0, cpus - in_cpus(busy_s)),
               dash(fmt::format("{:.0f}/{:.0f}", mean(m.at_daemon), percentile(m.at_daemon, 0.99))),
               dash(fmt::format("{:.0f}/{:.0f}", mean(m.at_bench), percentile(m.at_bench, 0.99))),
               dash(fmt::format("{}", m.noted_ms.size())),
               loop && !m.noted_ms.empty() ? fmt::format("{:.2f}", percentile(m.noted_ms, 0.99)) : "-",
               stall(fmt::format("{}={}+{}", m.stall_ms.size(), m.stalls_at_daemon, m.stalls_at_bench)),
               stall(fmt::format("{:.2f}", m.stall_ms.empty() ? 0.0 : *std::max_element(m.stall_ms.begin(), m.stall_ms.end()))));
    if (m.errors) fmt::print("first error: {}\n", m.first_error);
    totals.rows[{variant.label, row.label}].emplace_back(percentile(all, 0.50), percentile(all, 0.99));
    totals.errors += m.errors;
    running += m.running;
    total += all.size();
  }
  totals.running += running;
  totals.calls += total;

  const json::value after = main_client->call(protocol::method::exam_status, json::object{{"session", session}});
  const std::string stage_after = o.train ? drain_stage(*main_client, submission, std::chrono::milliseconds(100)) : "";
  if (o.train && running != static_cast<int>(total))
    fmt::print("  {}: the grading job was not running for every call (before: {}; after: {}; {} of {} replies; stage "
               "before {}, after {})\n",
               variant.label, queue_text(before), queue_text(after), running, total, stage_before,
               stage_after.empty() ? "no new progress" : stage_after);

  if (submission) {
    try {
      main_client->call(protocol::method::submission_cancel, json::object{{"submission", submission}});
    } catch (const protocol::RpcError&) {
      // finished already
    }
  }
  main_client->call(protocol::method::daemon_shutdown, json::object{});
  main_client.reset();
  if (!daemon.stop(std::chrono::seconds(15))) fmt::print(stderr, "daemon_load: {} needed a signal to stop\n", variant.label);
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const std::optional<Options> parsed = parse(argc, argv, exit_code);
  if (!parsed) return exit_code;
  const Options& o = *parsed;
  ::signal(SIGPIPE, SIG_IGN);
  // Each client holds a socket and an io_context (epoll + eventfd): several
  // descriptors per client.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }

  try {
    fmt::print("daemon_load: {} clients x {} exam/status calls, {}; daemon --concurrency {} --watcher {} --job-nice {}; "
               "loop thread slice {}; load average {}",
               o.clients, o.calls, o.train ? "reference solution training" : "no grading job", o.concurrency,
               o.watcher, o.job_nice, o.loop_slice_us ? fmt::format("{} us", o.loop_slice_us) : "default",
               slurp("/proc/loadavg"));
    for (const auto& v : o.variants) {
      std::string args;
      for (const auto& a : v.args) args += " " + a;
      fmt::print("  {} = {}{}\n", v.label, v.daemon.string(), args);
    }
    fmt::print(
        "columns: CPU us/call of the daemon (all its threads) and of this load generator | run-queue wait us/call of "
        "the daemon's io thread and of the loop's thread | their CPU / wall % | times each was put on a CPU, per "
        "call | CPUs (of 2) used by the grading job "
        "(the daemon's child processes), by other processes, stolen by the hypervisor, idle | requests waiting for "
        "the daemon, and replies waiting for the load generator, mean/p99 of samples every 5 ms (of {} outstanding) | "
        "calls during which a notification arrived, their p99 ms | spans over 2 ms without any reply (stalls) = "
        "those that waited for the daemon + those that waited for this program, and the longest in ms\n",
        o.clients);
    fmt::print("{:>8} {:>14} {:>6} {:>6} {:>6} {:>6} {:>6} | {:>5} {:>5} | {:>5} {:>5} | {:>4} {:>4} | {:>5} {:>5} | {:>4} "
               "{:>4} {:>4} {:>4} | {:>9} {:>9} | {:>5} {:>5} | {:>11} {:>6}\n",
               "daemon", "load", "calls", "p50 ms", "p99 ms", "max ms", "req/s", "daem", "bench", "io", "loop", "io%",
               "lp%", "io/c", "lp/c", "job", "oth", "stl", "idle", "@daemon", "@bench", "noted", "p99n", "stalls d+b", "longst");
    Totals totals;
    for (int round = 0; round < o.rounds; ++round)
      for (const auto& v : o.variants) run_variant(o, v, round, totals);
    if (o.train)
      fmt::print("grading job running in {} of {} status replies\n", totals.running, totals.calls);
    if (o.rounds > 1) {
      // The machine is noisy: per variant and load, the median over the
      // rounds, the range, and how many rounds met p99 <= 5 ms.
      fmt::print("summary over {} rounds: median p50 ms, median p99 ms, p99 range, rounds with p99 <= 5 ms\n", o.rounds);
      for (const auto& v : o.variants)
        for (const auto& [key, rows] : totals.rows) {
          if (key.first != v.label) continue;
          std::vector<double> p50, p99;
          for (const auto& [a, b] : rows) {
            p50.push_back(a);
            p99.push_back(b);
          }
          std::sort(p50.begin(), p50.end());
          std::sort(p99.begin(), p99.end());
          const auto met = std::count_if(p99.begin(), p99.end(), [](double x) { return x <= 5.0; });
          fmt::print("{:>8} {:>14} {:>6.2f} {:>6.2f} {:>6.2f}-{:<6.2f} {}/{}\n", key.first, key.second,
                     percentile(p50, 0.5), percentile(p99, 0.5), p99.front(), p99.back(), met, p99.size());
        }
    }
    fmt::print("load average at the end: {}", slurp("/proc/loadavg"));
    return totals.errors ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "daemon_load: {}\n", e.what());
    return 1;
  }
}
