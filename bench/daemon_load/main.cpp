// bench/daemon_load — how torchexamd answers many clients at once.
//
// Starts its own torchexamd (temporary socket and state folder), opens a
// practice session on environments/practice in a temporary workspace, and
// then has C concurrent client connections call exam/status N times each,
// back to back (closed loop) or on a schedule (open loop, --rate). Prints the
// per-call latency (p50, p99, max), the requests per second and where the
// time went (report.hpp) of each row. The load scenarios are in load.hpp.
//
// With --train, the fashion_mnist reference solution is submitted first and
// the measurement starts once its training has begun, so the daemon answers
// while a grading job runs (and broadcasts its progress to every client);
// the report says whether a job was running, from the queue in the status
// replies themselves.
//
// Several daemons can be compared in one run (the machine is noisy): each
// --variant is started fresh (with its own training job under --train) and
// measured in turn, --rounds times: A B A B ... With --rounds > 1 a summary
// gives each variant's median p50 and p99 over the rounds.
//
// Usage and defaults: daemon_load --help; figures: docs/benchmarks.md.
#include "load.hpp"
#include "options.hpp"
#include "protocol/messages.hpp"
#include "report.hpp"
#include "support/bench_daemon.hpp"
#include "support/stats.hpp"

#include <fmt/format.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using namespace torchexam::bench;

namespace {

struct Totals {
  int errors = 0, running = 0;
  size_t calls = 0;
  RoundFigures rows;
};

// A row is a load mode at a rate ("threads" only closed loop); its label is
// the mode, with "/Pp" for a loop spread over P load processes and "@R" for
// an open loop at R requests/s.
struct Row {
  std::string mode;  // "loop" (full parse), "light", "threads"
  double rate = 0;
  int procs = 1;
  std::string label;
};

std::vector<Row> rows_of(const Options& o) {
  std::vector<std::string> loops;
  if (o.check == "both")
    loops = {"loop", "light"};
  else
    loops = {o.check == "light" ? "light" : "loop"};
  auto loop_rows = [&] {
    std::vector<Row> out;
    for (double rate : o.rates)
      for (int procs : o.procs)
        for (const auto& mode : loops) {
          std::string label = procs > 1 ? fmt::format("{}/{}p", mode, procs) : mode;
          if (rate > 0) label += fmt::format("@{:g}", rate);
          out.push_back({mode, rate, procs, label});
        }
    return out;
  };
  std::vector<Row> rows;
  if (o.load == "loop" || o.load == "both") rows = loop_rows();
  if (o.load == "threads" || o.load == "both") rows.push_back({"threads", 0, 1, "threads"});
  if (o.load == "both") {
    auto again = loop_rows();
    rows.insert(rows.end(), again.begin(), again.end());
  }
  return rows;
}

// Starts `variant`, opens a session, starts the training job (--train), runs
// each row and prints it.
void run_variant(const Options& o, const Variant& variant, int round, Totals& totals) {
  const fs::path root =
      fs::temp_directory_path() / fmt::format("torchexam-daemon-load-{}-{}-{}", ::getpid(), variant.label, round);
  BenchDaemon daemon(variant.daemon, root);
  auto main_client = daemon.connect();
  const fs::path workspace = root / "workspace";
  const std::string session = open_practice_session(*main_client, o.source, workspace);
  const int64_t submission = o.train ? train_reference(daemon, *main_client, session, o.source, workspace) : 0;
  const json::value before = main_client->call(protocol::method::exam_status, json::object{{"session", session}});

  const LoadTarget target{daemon.socket(), session, o.clients, o.calls};
  int running = 0;
  size_t total = 0;
  for (const auto& row : rows_of(o)) {
    const bool loop = row.mode != "threads";
    const Probe start = take_probe(daemon.pid());
    Measurement m = loop ? measure_procs(target, row.procs, row.mode == "light", row.rate) : measure_threads(target);
    const Probe end = take_probe(daemon.pid());
    print_row({variant.label, row.label, loop, row.rate == 0}, m, start, end);
    totals.rows[{variant.label, row.label}].emplace_back(percentile(m.latency_ms, 0.50),
                                                         percentile(m.latency_ms, 0.99));
    totals.errors += m.errors;
    running += m.running;
    total += m.latency_ms.size();
  }
  totals.running += running;
  totals.calls += total;

  const json::value after = main_client->call(protocol::method::exam_status, json::object{{"session", session}});
  if (o.train && running != static_cast<int>(total)) {
    const std::string stage = drain_stage(*main_client, submission, std::chrono::milliseconds(100));
    fmt::print(
        "  {}: the grading job was not running for every call (before: {}; after: {}; {} of {} replies; "
        "stage after: {})\n",
        variant.label, queue_text(before), queue_text(after), running, total,
        stage.empty() ? "no new progress" : stage);
  }
  if (submission) {
    try {
      main_client->call(protocol::method::submission_cancel, json::object{{"submission", submission}});
    } catch (const protocol::RpcError&) {
      // finished already
    }
  }
  main_client->call(protocol::method::daemon_shutdown, json::object{});
  main_client.reset();
  if (!daemon.stop(std::chrono::seconds(15)))
    fmt::print(stderr, "daemon_load: {} needed a signal to stop\n", variant.label);
}

}  // namespace

int main(int argc, char** argv) {
  int exit_code = 0;
  const std::optional<Options> parsed = parse_options(argc, argv, exit_code);
  if (!parsed) return exit_code;
  const Options& o = *parsed;
  ::signal(SIGPIPE, SIG_IGN);
  if (o.load_process) {
    const double rate = o.rates.front();
    return run_load_process(o.target, *o.load_process, o.check == "light", rate);
  }
  // Each client holds a socket and an io_context (epoll + eventfd): several
  // descriptors per client.
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur < nofile.rlim_max) {
    nofile.rlim_cur = nofile.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &nofile);
  }

  try {
    fmt::print(
        "daemon_load: {} clients x {} exam/status calls, {}; daemon --concurrency {} --watcher {} --job-nice {}; "
        "load average {}",
        o.clients, o.calls, o.train ? "reference solution training" : "no grading job", o.concurrency, o.watcher,
        o.job_nice, slurp("/proc/loadavg"));
    std::vector<std::string> order;
    for (const auto& v : o.variants) {
      std::string env;
      for (const auto& [name, value] : v.daemon.env) env += name + "=" + value + " ";
      std::string args;
      for (const auto& a : v.daemon.args) args += " " + a;
      fmt::print("  {} = {}{}{}\n", v.label, env, v.daemon.exe.string(), args);
      order.push_back(v.label);
    }
    print_header(o.clients);
    Totals totals;
    for (int round = 0; round < o.rounds; ++round)
      for (const auto& v : o.variants) run_variant(o, v, round, totals);
    if (o.train) fmt::print("grading job running in {} of {} status replies\n", totals.running, totals.calls);
    // The machine is noisy: per variant and load, the median over the rounds.
    if (o.rounds > 1) print_summary(totals.rows, order, o.rounds);
    fmt::print("load average at the end: {}", slurp("/proc/loadavg"));
    return totals.errors ? 1 : 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "daemon_load: {}\n", e.what());
    return 1;
  }
}
