// bench/feedback_latency — how long a candidate waits for feedback (issue 21).
//
// Save -> diagnostics published: two private torchexamd daemons, one per
// save-time checker (--save-checker compiler: the environment's compiler,
// clang++ for the practice exam, -fsyntax-only with the precompiled LibTorch
// header on every save; --save-checker clangd: a warm
// clangd per session), each with a practice session in a workspace of its
// own. Each round writes the regression task's solution.cpp with a new
// unknown name in each workspace, in turn (the order alternates between
// rounds), and times from the write to the moment `exam/status` (what `torchexam
// status` shows, and what the language server publishes from) carries an
// error naming it. So each figure includes the watcher's settling time
// (300 ms) and a status poll (every 10 ms), as a candidate sees it.
//
// Before the rounds each daemon is warmed: its first save (the compiler side
// loads its precompiled header; the clangd side answers with the compiler
// check while clangd builds its preamble) is timed and reported as "first
// save", then the clangd side is saved until its answer is clangd's own
// (clangd's capitalised wording), so the rounds compare warm paths.
//
// Submit -> first training batch, and a grading beside a speculative build:
// feedback_submit.hpp (--submit-rounds, --grading-rounds).
//
// Usage: feedback_latency [--rounds N] [--submit-rounds N] [--grading-rounds N];
// figures: docs/benchmarks.md.
#include "feedback_submit.hpp"
#include "protocol/messages.hpp"
#include "support/bench_daemon.hpp"
#include "support/stats.hpp"

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
using namespace torchexam;
using namespace torchexam::bench;
using SteadyClock = std::chrono::steady_clock;

namespace {

const fs::path kSource = BENCH_SOURCE_DIR;
constexpr auto kPollEvery = std::chrono::milliseconds(10);
constexpr auto kGiveUpAfter = std::chrono::seconds(300);

struct Side {
  std::string checker;  // "compiler" or "clangd"
  std::unique_ptr<BenchDaemon> daemon;
  std::unique_ptr<Client> client;
  std::string session;
  fs::path file;  // the regression task's solution.cpp
  std::vector<double> seconds;
};

// The regression starter calling an unknown function `name`.
std::string broken_source(const std::string& name) {
  std::ifstream in(kSource / "environments/practice/regression/starter.cpp");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string anchor = "  NetImpl() {\n";
  const size_t at = text.find(anchor);
  if (at == std::string::npos) throw std::runtime_error("the regression starter has no NetImpl() {");
  return text.insert(at + anchor.size(), "    " + name + "(3);\n");
}

// The error about `name` in the regression task's diagnostics, once there.
std::optional<Diagnostic> error_naming(Side& s, const std::string& name) {
  const protocol::ExamStatus st = s.client->call(protocol::rpc::exam_status, protocol::SessionParams{s.session, ""});
  for (const auto& t : st.tasks)
    if (t.id == "regression")
      for (const auto& d : t.diagnostics)
        if (d.severity == "error" && d.message.find(name) != std::string::npos) return d;
  return std::nullopt;
}

// Save -> an error naming the new unknown name in exam/status: seconds, and
// the message (whose wording says which compiler answered).
std::pair<double, std::string> save_and_wait(Side& s, const std::string& name) {
  const std::string text = broken_source(name);
  const auto start = SteadyClock::now();
  {
    std::ofstream out(s.file, std::ios::trunc);
    out << text;
  }
  while (SteadyClock::now() - start < kGiveUpAfter) {
    if (auto d = error_naming(s, name))
      return {std::chrono::duration<double>(SteadyClock::now() - start).count(), d->message};
    std::this_thread::sleep_for(kPollEvery);
  }
  throw std::runtime_error(fmt::format("{}: no diagnostic naming {} within {} s\n{}", s.checker, name,
                                       kGiveUpAfter.count(), s.daemon->log_tail()));
}

// g++ says "'x' was not declared in this scope", clang++ "use of undeclared
// identifier 'x'", clangd (which capitalises its messages) "Use of ...".
bool clangs_wording(const std::string& message) {
  return message.find("Use of undeclared identifier") != std::string::npos;
}

double load_average() {
  double one = 0;
  std::ifstream("/proc/loadavg") >> one;
  return one;
}

void measure_saves(const fs::path& root, int rounds);

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"feedback_latency: save -> diagnostics published, the compiler's -fsyntax-only vs a warm clangd"};
  int rounds = 10;
  int submit_rounds = 5, grading_rounds = 3;
  app.add_option("--rounds", rounds, "saves timed per checker, alternating (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--submit-rounds", submit_rounds,
                 "rounds of submit -> first training batch, the old path (no speculative build, fresh runner) vs the new (speculative builds when idle, warm runner), alternating (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--grading-rounds", grading_rounds,
                 "gradings timed with a speculative build beside them and without, alternating (0: none)")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  try {
    const fs::path root = fs::temp_directory_path() / fmt::format("feedback-latency-{}", ::getpid());
    if (rounds > 0) measure_saves(root, rounds);
    if (submit_rounds > 0) measure_submit(root, submit_rounds);
    if (grading_rounds > 0) measure_grading_beside(root, grading_rounds);
    std::error_code ec;
    fs::remove_all(root, ec);
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "feedback_latency: {}\n", e.what());
    return 1;
  }
}

namespace {

void measure_saves(const fs::path& root, int rounds) {
  {
    std::vector<Side> sides(2);
    sides[0].checker = "compiler";
    sides[1].checker = "clangd";
    for (auto& s : sides) {
      DaemonSpec spec;
      spec.exe = FEEDBACK_LATENCY_TORCHEXAMD;
      spec.args = {"--save-checker", s.checker};
      spec.cache = FEEDBACK_LATENCY_CACHE_DIR;
      s.daemon = std::make_unique<BenchDaemon>(spec, root / s.checker);
      s.client = s.daemon->connect();
      const fs::path workspace = s.daemon->root() / "ws";
      s.session = open_practice_session(*s.client, kSource, workspace);
      s.file = workspace / "regression" / "solution.cpp";
    }
    fmt::print("load average {:.2f} at the start\n", load_average());

    int serial = 0;
    auto next_name = [&serial] { return fmt::format("undefined_layer_{}", ++serial); };
    for (auto& s : sides) {
      const auto [first, message] = save_and_wait(s, next_name());
      fmt::print("{:>6}: first save {:.2f} s ({})\n", s.checker, first, clangs_wording(message) ? "clangd" : "the compiler");
    }
    // Warm: saves until the clangd side's answer is clangd's own.
    Side& warm = sides[1];
    for (int i = 0;; ++i) {
      const auto [secs, message] = save_and_wait(warm, next_name());
      if (clangs_wording(message)) {
        fmt::print("clangd: warm after {} more save(s), the last {:.2f} s\n", i + 1, secs);
        break;
      }
      if (i == 30) throw std::runtime_error("clangd never answered a save itself:\n" + warm.daemon->log_tail());
    }

    fmt::print("\n| round | first | compiler -fsyntax-only (s) | clangd, warm (s) |\n| ---: | --- | ---: | ---: |\n");
    int answered_by_compiler = 0;
    for (int r = 0; r < rounds; ++r) {
      const bool compiler_first = r % 2 == 0;
      double figure[2] = {0, 0};
      for (int k = 0; k < 2; ++k) {
        Side& s = sides[compiler_first ? k : 1 - k];
        const auto [secs, message] = save_and_wait(s, next_name());
        s.seconds.push_back(secs);
        figure[&s == &sides[0] ? 0 : 1] = secs;
        if (&s == &sides[1] && !clangs_wording(message)) ++answered_by_compiler;
      }
      fmt::print("| {} | {} | {:.2f} | {:.2f} |\n", r + 1, compiler_first ? "compiler" : "clangd", figure[0], figure[1]);
    }
    fmt::print("\n| checker | median (s) | min | max | p90 |\n| --- | ---: | ---: | ---: | ---: |\n");
    for (const auto& s : sides)
      fmt::print("| {} | **{:.2f}** | {:.2f} | {:.2f} | {:.2f} |\n", s.checker, median(s.seconds),
                 percentile(s.seconds, 0), percentile(s.seconds, 1), percentile(s.seconds, 0.9));
    fmt::print("\nclangd side: {} of {} timed saves answered by the compiler fallback\n", answered_by_compiler, rounds);
    fmt::print("load average {:.2f} at the end\n", load_average());
    sides.clear();  // stops the daemons
  }
}

}  // namespace
