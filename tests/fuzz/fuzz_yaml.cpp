// fuzz_yaml — libFuzzer target for the exam environment loader
// (config::load_environment): environment.yaml and task.yaml text through
// both stages, yaml-cpp's parse and the validation into the model.
//
// The loader reads an environment folder, so each input is laid out as one:
// the input is environment.yaml's text, optionally followed by a NUL byte and
// the text of task.yaml. Every task environment.yaml lists (up to four,
// names that can be folders) gets a folder holding that task.yaml, and the
// files task.yaml names as statement, starter and reference are created
// (empty) when they are plain file names, so inputs reach the checks behind
// "file must exist". The folder is rewritten for every input, in a scratch
// folder of this process's own.
//
// What counts as a bug (the fuzzer stops with a crash):
//  - any exception escaping other than config::ConfigError (the loader's
//    documented failure; yaml-cpp's exceptions must never escape);
//  - a ConfigError without a diagnostic, or a diagnostic without a message or
//    with a negative line or column;
//  - a loaded environment that breaks the model's promises: no task, a
//    ladder without 5 thresholds, a memory limit under 64 MiB, a duration
//    (exam, budget, compile timeout, Slurm poll) that is not positive or
//    would overflow the clock types the harness turns it into;
//  - sanitizer findings (ASan, UBSan, leaks) and hangs (-timeout).
//
// Build: tests/fuzz/run_short.sh SOURCE BUILD yaml (standalone), or the
// fuzz_yaml target in a Clang build (tests/fuzz/CMakeLists.txt). Seeds: the
// environments in environments/ and tests/environments/, laid out by
// run_short.sh; and tests/fuzz/corpus_yaml/.
#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

namespace fs = std::filesystem;
using namespace torchexam::config;

[[noreturn]] void bug(const char* what, std::string_view detail = {}) {
  std::fprintf(stderr, "fuzz_yaml: BUG: %s%s%.*s\n", what, detail.empty() ? "" : ": ",
               static_cast<int>(std::min<size_t>(detail.size(), 400)), detail.data());
  std::abort();
}

// This process's scratch folder, removed at exit.
const fs::path& scratch() {
  static const fs::path dir = [] {
    const fs::path base = fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
    fs::path d = base / ("fuzz_yaml." + std::to_string(getpid()));
    fs::create_directories(d);
    std::atexit([] { std::error_code ec; fs::remove_all(scratch(), ec); });
    return d;
  }();
  return dir;
}

void write(const fs::path& file, std::string_view text) {
  std::ofstream out(file, std::ios::binary | std::ios::trunc);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
}

// A name this harness may turn into a folder or file directly inside another.
bool plain_name(const std::string& name) {
  if (name.empty() || name.size() > 64 || name == "." || name == "..") return false;
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
          c == '.'))
      return false;
  return true;
}

// yaml-cpp read outside the code under test, only to lay the folder out:
// whatever it throws here just means "no such names".
YAML::Node parse_or_null(const std::string& text) {
  try {
    return YAML::Load(text);
  } catch (...) {
    return YAML::Node();
  }
}

std::vector<std::string> listed_tasks(const YAML::Node& env) {
  std::vector<std::string> out;
  try {
    const YAML::Node tasks = env.IsMap() ? env["tasks"] : YAML::Node();
    if (tasks.IsSequence())
      for (const auto& t : tasks)
        if (out.size() < 4 && t.IsScalar() && plain_name(t.Scalar())) out.push_back(t.Scalar());
  } catch (...) {
  }
  return out;
}

std::vector<std::string> named_files(const YAML::Node& task) {
  std::vector<std::string> out;
  try {
    if (task.IsMap())
      for (const char* key : {"statement", "starter", "reference"}) {
        const YAML::Node v = task[key];
        if (v.IsScalar() && plain_name(v.Scalar()) && v.Scalar() != "task.yaml") out.push_back(v.Scalar());
      }
  } catch (...) {
  }
  return out;
}

void lay_out(const fs::path& dir, const std::string& env_text, const std::string* task_text) {
  std::error_code ec;
  fs::remove_all(dir, ec);
  fs::create_directories(dir);
  write(dir / "environment.yaml", env_text);
  if (!task_text) return;
  const YAML::Node task = parse_or_null(*task_text);
  for (const std::string& id : listed_tasks(parse_or_null(env_text))) {
    if (id == "environment.yaml") continue;
    fs::create_directories(dir / id, ec);
    if (ec) continue;
    write(dir / id / "task.yaml", *task_text);
    for (const std::string& f : named_files(task)) write(dir / id / f, "");
  }
}

// A duration the harness can use: positive, and small enough that the clock
// types it is turned into (std::chrono::steady_clock::duration, int64
// nanoseconds; whole milliseconds in a long) hold it; beyond about 292 years
// the conversion overflows, which is undefined behaviour.
bool usable_duration(double seconds) {
  const double most = static_cast<double>(std::chrono::steady_clock::duration::max().count()) *
                      std::chrono::steady_clock::period::num / std::chrono::steady_clock::period::den;
  return std::isfinite(seconds) && seconds > 0 && seconds < most;
}

void check_loaded(const Environment& env) {
  if (env.tasks.empty()) bug("loaded an environment without tasks");
  if (!usable_duration(env.duration_s)) bug("duration out of the clock's range");
  if (!usable_duration(env.compile_timeout_s)) bug("compiler.timeout out of the clock's range");
  if (!usable_duration(env.grading.slurm.poll_s)) bug("grading.slurm.poll out of the clock's range");
  for (const TaskConfig& t : env.tasks) {
    if (t.ladder.thresholds.size() != 5) bug("a ladder without 5 thresholds", t.id);
    for (double x : t.ladder.thresholds)
      if (!std::isfinite(x)) bug("a ladder threshold that is not finite", t.id);
    if (!usable_duration(t.time_budget_s)) bug("time_budget out of the clock's range", t.id);
    if (t.memory_limit_bytes < (uint64_t{64} << 20)) bug("memory_limit under 64 MiB", t.id);
  }
}

void check_error(const ConfigError& e) {
  if (e.diagnostics().empty()) bug("ConfigError without a diagnostic", e.what());
  for (const Diagnostic& d : e.diagnostics()) {
    if (d.message.empty()) bug("a diagnostic without a message", d.where.str());
    if (d.where.line < 0 || d.where.column < 0) bug("a diagnostic at a negative position", d.where.str());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string env_text = input.substr(0, nul);
  const std::string task_text = nul == std::string::npos ? std::string() : input.substr(nul + 1);
  const fs::path dir = scratch() / "env";
  lay_out(dir, env_text, nul == std::string::npos ? nullptr : &task_text);
  try {
    check_loaded(load_environment(dir));
  } catch (const ConfigError& e) {
    check_error(e);
  } catch (const std::exception& e) {
    bug("an exception escaped the loader", e.what());
  } catch (...) {
    bug("a non-standard exception escaped the loader");
  }
  return 0;
}
