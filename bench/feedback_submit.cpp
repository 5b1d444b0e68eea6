#include "feedback_submit.hpp"

#include "protocol/messages.hpp"
#include "support/bench_daemon.hpp"
#include "support/stats.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <chrono>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace torchexam::bench {
namespace fs = std::filesystem;
namespace json = boost::json;
using SteadyClock = std::chrono::steady_clock;

namespace {

const fs::path kSource = BENCH_SOURCE_DIR;
constexpr auto kPollEvery = std::chrono::milliseconds(10);
constexpr auto kGiveUpAfter = std::chrono::seconds(600);

double seconds_since(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

struct Side {
  std::string name;  // what the table calls it
  std::unique_ptr<BenchDaemon> daemon;
  std::unique_ptr<Client> client;
  std::string session;
  fs::path file;  // the regression task's solution.cpp
  std::vector<std::vector<double>> figures;
};

// One side: what the table calls it, and its torchexamd flags beside
// --save-checker clangd (the default).
struct SideSpec {
  std::string name;
  std::vector<std::string> flags;
};

// Two daemons with the same save checker (clangd), one per SideSpec,
// sharing the build tree's cache.
std::vector<Side> start_sides(const fs::path& root, const SideSpec& old_side, const SideSpec& new_side,
                              size_t columns) {
  std::vector<Side> sides(2);
  const SideSpec* specs[2] = {&old_side, &new_side};
  for (int i = 0; i < 2; ++i) {
    Side& s = sides[static_cast<size_t>(i)];
    s.name = specs[i]->name;
    DaemonSpec spec;
    spec.exe = FEEDBACK_LATENCY_TORCHEXAMD;
    spec.args = {"--save-checker", "clangd"};
    spec.args.insert(spec.args.end(), specs[i]->flags.begin(), specs[i]->flags.end());
    spec.cache = FEEDBACK_LATENCY_CACHE_DIR;
    s.daemon = std::make_unique<BenchDaemon>(spec, root / (i == 0 ? "old" : "new"));
    s.client = s.daemon->connect();
    const fs::path workspace = s.daemon->root() / "ws";
    s.session = open_practice_session(*s.client, kSource, workspace);
    s.file = workspace / "regression" / "solution.cpp";
    s.figures.resize(columns);
  }
  return sides;
}

// The regression reference, its own by a last-line comment (the cache
// holds nothing for it), training `epochs` epochs; `error` adds a line
// that does not compile, naming it.
std::string reference(const std::string& tag, int epochs = 150, const std::string& error = "") {
  std::ifstream in(kSource / "environments/practice/regression/reference.cpp");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string epochs_at = "kEpochs = 150;";
  const size_t at = text.find(epochs_at);
  if (at == std::string::npos) throw std::runtime_error("the regression reference has no kEpochs = 150");
  text.replace(at, epochs_at.size(), fmt::format("kEpochs = {};", epochs));
  if (!error.empty()) text += fmt::format("\nint broken_here = {};\n", error);
  // At the end: a change among the leading lines would make clangd parse
  // LibTorch again (its preamble).
  return text + fmt::format("\n// feedback_latency {} {} {}\n", tag, ::getpid(),
                            std::chrono::system_clock::now().time_since_epoch().count());
}

void write(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::trunc) << text; }

// Polls exam/status until the regression task's diagnostics satisfy `ok`.
template <class F>
void wait_diagnostics(Side& s, F&& ok, const std::string& what) {
  const auto start = SteadyClock::now();
  while (SteadyClock::now() - start < kGiveUpAfter) {
    const protocol::ExamStatus st = s.client->call(protocol::rpc::exam_status, protocol::SessionParams{s.session, ""});
    for (const auto& t : st.tasks)
      if (t.id == "regression" && ok(t.diagnostics)) return;
    std::this_thread::sleep_for(kPollEvery);
  }
  throw std::runtime_error(fmt::format("{}: {} never showed\n{}", s.name, what, s.daemon->log_tail()));
}

// Waits for an error naming `name`; returns its message.
std::string wait_error_naming(Side& s, const std::string& name) {
  std::string message;
  wait_diagnostics(
      s,
      [&](const std::vector<Diagnostic>& ds) {
        for (const auto& d : ds)
          if (d.severity == "error" && d.message.find(name) != std::string::npos) {
            message = d.message;
            return true;
          }
        return false;
      },
      "an error naming " + name);
  return message;
}

// Broken saves until clangd answers one itself (clangd's capitalised
// wording, not the compiler check's), so that the rounds see warm checks.
void warm_clangd(Side& s, int& serial) {
  for (int i = 0; i < 30; ++i) {
    const std::string name = fmt::format("undefined_name_{}", ++serial);
    write(s.file, reference(name, 150, name));
    if (wait_error_naming(s, name).find("Use of undeclared identifier") != std::string::npos) return;
  }
  throw std::runtime_error(s.name + ": clangd never answered a save itself\n" + s.daemon->log_tail());
}

void wait_clean(Side& s) {
  wait_diagnostics(
      s,
      [](const std::vector<Diagnostic>& ds) {
        for (const auto& d : ds)
          if (d.severity == "error" || d.severity == "fatal error") return false;
        return true;
      },
      "a clean check");
}

// Waits until submission `id` has ended.
json::value wait_finished(Side& s, int64_t id) {
  const auto start = SteadyClock::now();
  while (SteadyClock::now() - start < kGiveUpAfter) {
    while (s.client->next_notification(std::chrono::milliseconds(0))) {
    }
    const json::value r = s.client->call(protocol::method::submission_get, json::object{{"submission", id}});
    const auto& state = r.at("state").as_string();
    if (state != "queued" && state != "running") return r;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  throw std::runtime_error(fmt::format("{}: submission {} never ended\n{}", s.name, id, s.daemon->log_tail()));
}

// Submit -> the first training progress of that submission (a batch's loss),
// in seconds; then the submission is cancelled and waited for.
double submit_to_first_batch(Side& s) {
  while (s.client->next_notification(std::chrono::milliseconds(0))) {
  }
  const auto start = SteadyClock::now();
  const protocol::Submitted sub =
      s.client->call(protocol::rpc::task_submit, protocol::SubmitParams{s.session, "", "regression", "solution.cpp"});
  double secs = -1;
  while (secs < 0 && SteadyClock::now() - start < kGiveUpAfter) {
    auto n = s.client->next_notification(std::chrono::milliseconds(100));
    if (!n || n->method != protocol::method::submission_progress) continue;
    const auto& p = n->params.as_object();
    if (p.at("submission").as_int64() == sub.submission && p.at("stage").as_string() == "train" && p.contains("kind"))
      secs = seconds_since(start);
  }
  if (secs < 0)
    throw std::runtime_error(
        fmt::format("{}: submission {} never trained\n{}", s.name, sub.submission, s.daemon->log_tail()));
  s.client->call(protocol::method::submission_cancel, json::object{{"submission", sub.submission}});
  wait_finished(s, sub.submission);
  return secs;
}

double number(const json::value& v) { return v.is_double() ? v.as_double() : static_cast<double>(v.as_int64()); }

double load_average() {
  double one = 0;
  std::ifstream("/proc/loadavg") >> one;
  return one;
}

void print_summary(const std::vector<Side>& sides, const std::vector<std::string>& columns) {
  fmt::print("\n| case | {} median (s) | min-max | {} median (s) | min-max |\n| --- | ---: | --- | ---: | --- |\n",
             sides[0].name, sides[1].name);
  for (size_t c = 0; c < columns.size(); ++c) {
    fmt::print("| {} |", columns[c]);
    for (const auto& s : sides)
      fmt::print(" **{:.2f}** | {:.2f}-{:.2f} |", median(s.figures[c]), percentile(s.figures[c], 0),
                 percentile(s.figures[c], 1));
    fmt::print("\n");
  }
}

}  // namespace

void measure_submit(const fs::path& root, int rounds) {
  // Today's path before issue 21 against the new one: speculative builds
  // and the warm runner.
  std::vector<Side> sides =
      start_sides(root / "submit", {"off: no speculative build, fresh runner", {"--speculative-builds", "off", "--warm-runner", "off"}},
                  {"on: speculative build when idle, warm runner", {"--speculative-builds", "idle", "--warm-runner", "on"}}, 3);
  fmt::print("\nsubmit -> first training batch, load average {:.2f} at the start\n", load_average());
  int serial = 0;
  // Warm each side: its clangd, the runner, the staged data.
  for (auto& s : sides) {
    warm_clangd(s, serial);
    write(s.file, reference(fmt::format("warm-{}", ++serial)));
    wait_clean(s);
    submit_to_first_batch(s);
  }
  fmt::print(
      "\n| round | side | just saved (s) | saved 10 s before (s) | unchanged (s) |\n"
      "| ---: | --- | ---: | ---: | ---: |\n");
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      Side& s = sides[static_cast<size_t>(r % 2 == 0 ? k : 1 - k)];
      double f[3];
      // (1) The error fixed, its clean check shown, submitted at once.
      const std::string name1 = fmt::format("undefined_name_{}", ++serial);
      write(s.file, reference(name1, 150, name1));
      wait_error_naming(s, name1);
      write(s.file, reference(fmt::format("just-{}", serial)));
      wait_clean(s);
      f[0] = submit_to_first_batch(s);
      // (2) Saved, then submitted 10 s after the save.
      const std::string name2 = fmt::format("undefined_name_{}", ++serial);
      write(s.file, reference(name2, 150, name2));
      wait_error_naming(s, name2);
      const auto saved = SteadyClock::now();
      write(s.file, reference(fmt::format("ten-{}", serial)));
      wait_clean(s);
      std::this_thread::sleep_until(saved + std::chrono::seconds(10));
      f[1] = submit_to_first_batch(s);
      // (3) The same source again.
      f[2] = submit_to_first_batch(s);
      for (int c = 0; c < 3; ++c) s.figures[static_cast<size_t>(c)].push_back(f[c]);
      fmt::print("| {} | {} | {:.2f} | {:.2f} | {:.2f} |\n", r + 1, s.name, f[0], f[1], f[2]);
      std::fflush(stdout);
    }
  }
  print_summary(sides,
                {"changed, submitted when its clean check shows", "saved 10 s before", "unchanged, resubmitted"});
  fmt::print("load average {:.2f} at the end\n", load_average());
}

void measure_grading_beside(const fs::path& root, int rounds) {
  std::vector<Side> sides = start_sides(root / "grading", {"speculative builds off", {"--speculative-builds", "off"}},
                                        {"speculative builds always", {"--speculative-builds", "always"}}, 1);
  constexpr int kEpochs = 2000;
  fmt::print("\ngrading beside a speculative build: the regression reference, {} epochs; load average {:.2f}\n",
             kEpochs, load_average());
  // The graded source, built once per side before the rounds.
  const std::string graded = reference("graded", kEpochs);
  int serial = 0;
  for (auto& s : sides) {
    warm_clangd(s, serial);
    write(s.file, graded);
    wait_clean(s);
    submit_to_first_batch(s);
  }
  fmt::print("\n| round | side | train (s) | grading total (s) |\n| ---: | --- | ---: | ---: |\n");
  for (int r = 0; r < rounds; ++r) {
    for (int k = 0; k < 2; ++k) {
      Side& s = sides[static_cast<size_t>(r % 2 == 0 ? k : 1 - k)];
      write(s.file, graded);
      wait_clean(s);
      const protocol::Submitted sub = s.client->call(
          protocol::rpc::task_submit, protocol::SubmitParams{s.session, "", "regression", "solution.cpp"});
      // Once it trains, a new clean save of the task: checked on both
      // sides, built beside the training on the `always` side.
      const auto start = SteadyClock::now();
      for (std::string stage; stage != "train";) {
        stage = drain_stage(*s.client, sub.submission, std::chrono::seconds(1), stage);
        if (SteadyClock::now() - start > kGiveUpAfter)
          throw std::runtime_error(s.name + ": the graded submission never trained\n" + s.daemon->log_tail());
      }
      write(s.file, reference(fmt::format("beside-{}", ++serial)));
      const json::value done = wait_finished(s, sub.submission);
      const auto& timings = done.at("result").at("timings");
      const double train = number(timings.at("train_s"));
      const double total = number(timings.at("total_s"));
      s.figures[0].push_back(train);
      // The graded source again: its save cancels a build still running
      // beside nothing now, which would otherwise run into the other
      // side's round (its own build is cached: nothing starts). The
      // watcher settles for 300 ms before it reports the save.
      write(s.file, graded);
      std::this_thread::sleep_for(std::chrono::seconds(1));
      fmt::print("| {} | {} | {:.2f} | {:.2f} |\n", r + 1, s.name, train, total);
      std::fflush(stdout);
    }
  }
  print_summary(sides, {"train time of the grading"});
  fmt::print("load average {:.2f} at the end\n", load_average());
}

}  // namespace torchexam::bench
