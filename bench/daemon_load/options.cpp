#include "options.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace fs = std::filesystem;

namespace torchexam::bench {
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

[[noreturn]] void usage(const std::string& why) {
  fmt::print(stderr, "daemon_load: {}\n(see daemon_load --help)\n", why);
  std::exit(2);
}

// "LABEL=[NAME=VALUE...] PATH [ARGS...]"
Variant parse_variant(const std::string& text) {
  const size_t eq = text.find('=');
  if (eq == std::string::npos || eq == 0) usage("--variant wants LABEL=PATH [ARGS...], not '" + text + "'");
  Variant v;
  v.label = text.substr(0, eq);
  std::istringstream words(text.substr(eq + 1));
  std::string w;
  while ((words >> w) && w.find('=') != std::string::npos && w.front() != '/' && w.front() != '.') {
    const size_t e = w.find('=');
    v.daemon.env.emplace_back(w.substr(0, e), w.substr(e + 1));
  }
  if (w.empty() || w.find('=') != std::string::npos) usage("--variant " + v.label + ": no path");
  v.daemon.exe = w;
  while (words >> w) v.daemon.args.push_back(w);
  return v;
}

// The benchmark's own daemon options, before the variant's ARGS; those that
// ARGS name are left out, so a variant can set them itself.
void add_own_args(const Options& o, DaemonSpec& d) {
  std::vector<std::string> own;
  auto add = [&](const std::string& name, const std::string& value) {
    if (std::find(d.args.begin(), d.args.end(), name) != d.args.end()) return;
    own.push_back(name);
    own.push_back(value);
  };
  add("--concurrency", std::to_string(o.concurrency));
  add("--watcher", o.watcher);
  add("--job-nice", std::to_string(o.job_nice));
  d.args.insert(d.args.begin(), own.begin(), own.end());
}

}  // namespace

std::optional<Options> parse_options(int argc, char** argv, int& exit_code) {
  Options o;
  fs::path daemon = kDaemon, cache = kCache;
  o.source = kSource;
  std::vector<std::string> variants;
  std::string load_process;
  CLI::App app{
      "daemon_load: how torchexamd answers many clients at once (exam/status from C connections), "
      "optionally while it trains the fashion_mnist reference; see docs/benchmarks.md"};
  app.add_option("--clients", o.clients, "client connections")->check(CLI::PositiveNumber)->capture_default_str();
  app.add_option("--calls", o.calls, "exam/status calls per connection")
      ->check(CLI::PositiveNumber)
      ->capture_default_str();
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
  app.add_option("--daemon", daemon, "the torchexamd to measure (when no --variant is given)")->capture_default_str();
  app.add_option("--source", o.source, "the TorchExam source tree")->capture_default_str();
  app.add_option("--cache", cache, "build cache for the training job (TORCHEXAM_CACHE_DIR)")->capture_default_str();
  app.add_option("--variant", variants,
                 "'LABEL=[NAME=VALUE...] PATH [ARGS...]': a torchexamd to compare, with NAME=VALUE in its "
                 "environment and ARGS on its command line, started fresh for each round; repeat for several");
  app.add_option("--procs", o.procs,
                 "spread the connections of the loop rows over P load processes (one event loop each, all in this "
                 "program's session), as independent clients are; 1: one loop drives them all; comma-separated "
                 "for several rows")
      ->delimiter(',')
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  // A load process of --procs (this program started by itself): not for users.
  app.add_option("--load-process", load_process)->group("");
  app.add_option("--socket", o.target.socket)->group("");
  app.add_option("--session", o.target.session)->group("");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    exit_code = app.exit(e);
    return std::nullopt;
  }
  if (o.rates.empty()) o.rates = {0};
  if (!load_process.empty()) {
    Share s;
    if (std::sscanf(load_process.c_str(), "%d/%d", &s.index, &s.count) != 2) usage("--load-process wants I/P");
    o.load_process = s;
    o.target.clients = o.clients;
    o.target.calls = o.calls;
    return o;
  }
  for (const auto& v : variants) o.variants.push_back(parse_variant(v));
  if (o.variants.empty()) o.variants.push_back({"daemon", {daemon, {}, {}, {}, true}});
  for (auto& v : o.variants) {
    if (v.daemon.exe.empty()) usage("no torchexamd: pass --daemon PATH");
    v.daemon.cache = cache;
    add_own_args(o, v.daemon);
  }
  if (o.source.empty()) usage("no source tree: pass --source DIR");
  return o;
}

}  // namespace torchexam::bench
