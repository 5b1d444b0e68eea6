// bench/daemon_load — how torchexamd answers many clients at once.
//
// Starts its own torchexamd (temporary socket and state folder), opens a
// practice session on environments/practice in a temporary workspace, and
// then has C concurrent clients (one thread and one connection each) call
// exam/status N times each, back to back. Prints the per-call latency (p50,
// p99, max, measured by each client around Client::call) and the requests
// per second over the whole run.
//
// With --train, the fashion_mnist reference solution is submitted first and
// the measurement starts once its training has begun, so the daemon answers
// while a grading job runs (and broadcasts its progress to every client);
// the report says whether a job was running, from the queue in the status
// replies themselves.
//
// The load comes from one event loop driving every connection (--load loop,
// the default), from a thread per client (--load threads), or from both in
// turn, loop / threads / loop, in one run (--load both). Each row also
// prints the daemon's own CPU time per call (from /proc), the service time
// that bounds how fast 200 outstanding requests can be answered.
//
// Usage: daemon_load [--clients C] [--calls N] [--train] [--concurrency J] [--load loop|threads|both]
//                    [--job-nice N]
//                    [--watcher none|inotify] [--daemon PATH] [--source DIR] [--cache DIR]
//   defaults: 200 clients, 50 calls, no training, 1 grading job, no watcher;
//   the daemon, the source tree and the build cache default to this build's
//   (DAEMON_LOAD_TORCHEXAMD, DAEMON_LOAD_SOURCE_DIR, DAEMON_LOAD_CACHE_DIR).
#include "client.hpp"
#include "protocol/messages.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <latch>
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

struct Options {
  std::string load = "loop";  // loop: one event loop drives every connection; threads: a thread per client
  int clients = 200;
  int calls = 50;
  bool train = false;
  int concurrency = 1;
  int job_nice = 10;  // torchexamd's default
  std::string watcher = "none";
  fs::path daemon = kDaemon;
  fs::path source = kSource;
  fs::path cache = kCache;
};

[[noreturn]] void usage(const std::string& why) {
  fmt::print(stderr,
             "daemon_load: {}\nusage: daemon_load [--clients C] [--calls N] [--train] [--concurrency J] [--load loop|threads|both] [--job-nice N] "
             "[--watcher none|inotify] [--daemon PATH] [--source DIR] [--cache DIR]\n",
             why);
  std::exit(2);
}

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--train") {
      o.train = true;
      continue;
    }
    if (i + 1 >= argc) usage("missing value after " + a);
    const std::string v = argv[++i];
    if (a == "--clients") o.clients = std::atoi(v.c_str());
    else if (a == "--calls") o.calls = std::atoi(v.c_str());
    else if (a == "--concurrency") o.concurrency = std::atoi(v.c_str());
    else if (a == "--watcher") o.watcher = v;
    else if (a == "--load") o.load = v;
    else if (a == "--job-nice") o.job_nice = std::atoi(v.c_str());
    else if (a == "--daemon") o.daemon = v;
    else if (a == "--source") o.source = v;
    else if (a == "--cache") o.cache = v;
    else usage("unknown option " + a);
  }
  if (o.clients < 1 || o.calls < 1) usage("--clients and --calls must be at least 1");
  if (o.load != "loop" && o.load != "threads" && o.load != "both") usage("--load must be loop, threads or both");
  if (o.daemon.empty()) usage("no torchexamd: pass --daemon PATH");
  if (o.source.empty()) usage("no source tree: pass --source DIR");
  return o;
}

// The daemon we started, and the temporary folder it works in; both go away
// with this object even when the benchmark fails half-way.
class Daemon {
 public:
  Daemon(const Options& o, fs::path root) : root_(std::move(root)) {
    fs::create_directories(root_ / "state");
    socket_ = root_ / "run" / "daemon.sock";
    log_ = root_ / "torchexamd.log";
    const std::string concurrency = std::to_string(o.concurrency);
    // Everything the child needs is prepared before fork (no allocation after).
    const std::string state = (root_ / "state").string(), cache = o.cache.string();
    std::vector<std::string> args{o.daemon.string(), "--socket", socket_.string(), "--state-dir", state,
                                  "--concurrency", concurrency, "--watcher", o.watcher,
                                  "--job-nice", std::to_string(o.job_nice)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("cannot fork");
    if (pid_ == 0) {
      ::setenv("TORCHEXAM_STATE_DIR", state.c_str(), 1);
      if (!cache.empty()) ::setenv("TORCHEXAM_CACHE_DIR", cache.c_str(), 1);
      ::unsetenv("TORCHEXAM_SOCKET");
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
  // CPU seconds the daemon has used so far (user + system, its own threads).
  double cpu_seconds() const {
    std::ifstream in(fmt::format("/proc/{}/stat", pid_));
    std::string text((std::istreambuf_iterator<char>(in)), {});
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

 private:
  fs::path root_, socket_, log_;
  pid_t pid_ = -1;
};

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
  int running = 0;  // replies whose queue showed a running job
  int errors = 0;
  std::string first_error;
  double wall_s = 0;
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

// One thread drives every connection through one event loop: each client
// still has one request outstanding at a time (closed loop), but the load
// generator costs a few microseconds per call instead of a context switch
// per client.
class LoopClient : public std::enable_shared_from_this<LoopClient> {
 public:
  LoopClient(asio::io_context& io, const Options& o, std::string request, Measurement& m)
      : socket_(io), calls_left_(o.calls), request_(std::move(request)), m_(m) {}
  asio::local::stream_protocol::socket& socket() { return socket_; }

  void start() { send(); }

 private:
  void send() {
    t0_ = SteadyClock::now();
    asio::async_write(socket_, asio::buffer(request_), [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
      if (ec) return self->fail(ec.message());
      self->receive();
    });
  }
  void receive() {
    socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
      if (ec) return self->fail(ec.message());
      self->reader_.feed(std::string_view(self->buf_.data(), n));
      while (auto next = self->reader_.next()) {
        auto* frame = std::get_if<protocol::Frame>(&*next);
        if (!frame) return self->fail("bad framing from the daemon");
        json::value v = json::parse(frame->body);
        const auto& obj = v.as_object();
        if (!obj.contains("id")) continue;  // a notification (progress of the training job)
        self->m_.latency_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - self->t0_).count());
        if (obj.contains("error")) {
          if (self->m_.errors++ == 0) self->m_.first_error = json::serialize(obj.at("error"));
        } else if (job_running(obj.at("result"))) {
          ++self->m_.running;
        }
        if (--self->calls_left_ == 0) return;
        return self->send();
      }
      self->receive();
    });
  }
  void fail(const std::string& why) {
    if (m_.errors == 0) m_.first_error = why;
    m_.errors += calls_left_;
    calls_left_ = 0;
  }

  asio::local::stream_protocol::socket socket_;
  int calls_left_;
  std::string request_;
  Measurement& m_;
  protocol::FrameReader reader_;
  std::array<char, 65536> buf_;
  SteadyClock::time_point t0_;
};

Measurement measure_loop(const Options& o, const fs::path& socket, const std::string& session) {
  asio::io_context io;
  Measurement m;
  m.latency_ms.reserve(static_cast<size_t>(o.clients) * o.calls);
  const std::string request = protocol::encode_frame(
      protocol::make_request(1, protocol::method::exam_status, json::object{{"session", session}}));
  std::vector<std::shared_ptr<LoopClient>> clients;
  for (int i = 0; i < o.clients; ++i) {
    auto c = std::make_shared<LoopClient>(io, o, request, m);
    c->socket().connect(asio::local::stream_protocol::endpoint(socket.string()));
    clients.push_back(std::move(c));
  }
  const auto start = SteadyClock::now();
  for (auto& c : clients) c->start();
  io.run();
  m.wall_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  return m;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  ::signal(SIGPIPE, SIG_IGN);
  // Each client holds a socket and an io_context (epoll + eventfd): several
  // descriptors per client.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }

  try {
    const fs::path root = fs::temp_directory_path() / fmt::format("torchexam-daemon-load-{}", ::getpid());
    Daemon daemon(o, root);
    auto main_client = daemon.connect();
    const fs::path workspace = root / "workspace";
    json::value started = main_client->call(
        protocol::method::exam_start,
        json::object{{"environment", (o.source / "environments/practice").string()},
                     {"workspace", workspace.string()},
                     {"mode", "practice"}});
    const std::string session(started.at("session").as_string());

    fmt::print("daemon_load: {} clients x {} exam/status calls, {}; daemon --concurrency {} --watcher {} --job-nice {}\n",
               o.clients, o.calls, o.train ? "reference solution training" : "no grading job", o.concurrency,
               o.watcher, o.job_nice);

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
        fmt::print(stderr, "daemon_load: submission {} never reached training (state {}, message: {})\n{}\n",
                   submission, json::serialize(r.at("state")), json::serialize(r.at("message")), daemon.log_tail());
        return 1;
      }
    }
    const json::value before = main_client->call(protocol::method::exam_status, json::object{{"session", session}});

    std::vector<std::string> modes;
    if (o.load == "both") modes = {"loop", "threads", "loop"};
    else modes = {o.load};
    fmt::print("{:>8} {:>8} {:>10} {:>10} {:>10} {:>10} {:>12} {:>14} {:>8}\n", "load", "calls", "p50 ms", "p99 ms",
               "max ms", "wall s", "requests/s", "daemon us/call", "errors");
    int errors = 0, running = 0;
    size_t total = 0;
    for (const auto& mode : modes) {
      const double cpu_before = daemon.cpu_seconds();
      Measurement m = mode == "loop" ? measure_loop(o, daemon.socket(), session) : measure_threads(o, daemon.socket(), session);
      const double daemon_cpu_s = daemon.cpu_seconds() - cpu_before;
      std::sort(m.latency_ms.begin(), m.latency_ms.end());
      const auto& all = m.latency_ms;
      const double ok = static_cast<double>(all.size());
      fmt::print("{:>8} {:>8} {:>10.2f} {:>10.2f} {:>10.2f} {:>10.2f} {:>12.0f} {:>14.1f} {:>8}\n", mode, all.size(),
                 percentile(all, 0.50), percentile(all, 0.99), all.empty() ? 0.0 : all.back(), m.wall_s,
                 ok / m.wall_s, ok > 0 ? daemon_cpu_s * 1e6 / ok : 0.0, m.errors);
      if (m.errors) fmt::print("first error: {}\n", m.first_error);
      errors += m.errors;
      running += m.running;
      total += all.size();
    }

    const json::value after = main_client->call(protocol::method::exam_status, json::object{{"session", session}});
    const std::string stage_after = o.train ? drain_stage(*main_client, submission, std::chrono::milliseconds(100)) : "";
    fmt::print("grading job running during the measurement: {} (before: {}; after: {}; {} of {} status replies "
               "showed a running job{})\n",
               total == 0 || running == 0               ? "no"
               : running == static_cast<int>(total) ? "yes, in every reply"
                                                         : "part of the time",
               queue_text(before), queue_text(after), running, total,
               o.train ? fmt::format("; stage before {}, after {}", stage_before,
                                     stage_after.empty() ? "no new progress" : stage_after)
                       : "");

    if (submission) {
      try {
        main_client->call(protocol::method::submission_cancel, json::object{{"submission", submission}});
      } catch (const protocol::RpcError&) {
        // finished already
      }
    }
    main_client->call(protocol::method::daemon_shutdown, json::object{});
    main_client.reset();
    if (!daemon.stop(std::chrono::seconds(15))) fmt::print(stderr, "daemon_load: torchexamd needed a signal to stop\n");
    return errors ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "daemon_load: {}\n", e.what());
    return 1;
  }
}
