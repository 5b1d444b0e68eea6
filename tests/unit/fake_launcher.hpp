// fake_launcher.hpp — a ProcessLauncher for unit tests: records every
// command and answers from a script instead of starting anything.
//
// A rule matches a command (a predicate on its ProcessSpec); the last rule
// added that matches answers (so a test can override a fixture's default):
// its stdout lines go to on_line, its stderr text to spec.stderr_file, its
// `effect` runs (to write the files the real program would), and its
// result is returned. A command no rule matches throws std::runtime_error,
// as the real launcher does for a program it cannot start. Thread-safe.
#pragma once

#include "base/process.hpp"

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::test {

class FakeLauncher final : public ProcessLauncher {
 public:
  struct Reply {
    std::vector<std::string> stdout_lines;
    std::string stderr_text;
    ProcessResult result = exited(0);
    // Runs before the reply is given, with the command as started; may
    // change the reply (a status that depends on the arguments).
    std::function<void(const ProcessSpec&, Reply&)> effect;
  };
  using Match = std::function<bool(const ProcessSpec&)>;

  static ProcessResult exited(int code);
  static ProcessResult killed_by(int signal);
  static ProcessResult timed_out();

  // Matches a command whose executable's file name is `name` and whose
  // arguments include every one of `args`, in any order.
  static Match command(const std::string& name, std::vector<std::string> args = {});

  void on(Match when, Reply reply);

  ProcessResult run(const ProcessSpec& spec, const std::function<void(std::string_view)>& on_line) override;
  pid_t start_detached(const DetachedSpec& spec) override;
  std::filesystem::path find_executable(const std::string& name) override;

  // What was asked of it, in order.
  std::vector<ProcessSpec> commands() const;
  std::vector<DetachedSpec> detached() const;
  // The commands `m` matches.
  std::vector<ProcessSpec> commands(const Match& m) const;

  pid_t detached_pid = 4242;                  // what start_detached() returns
  std::vector<std::string> missing_programs;  // find_executable() finds everything else in /fake/bin

 private:
  mutable std::mutex mu_;
  std::vector<std::pair<Match, Reply>> rules_;
  std::vector<ProcessSpec> commands_;
  std::vector<DetachedSpec> detached_;
};

// The value after `flag` in `args` ("" when absent).
std::string arg_after(const std::vector<std::string>& args, const std::string& flag);

// Matchers for the compiler's commands (grading/compiler.hpp): its identity
// (`c++ --version`), the precompiled header and a build (both in the
// sandbox), a syntax check.
bool is_compiler_identity(const ProcessSpec& spec);
bool is_pch_build(const ProcessSpec& spec);
bool is_solution_build(const ProcessSpec& spec);
bool is_syntax_check(const ProcessSpec& spec);

// A compiler that works: it names itself, writes the precompiled header
// and the library where `-o` says, and prints nothing. Replies added later
// override it.
void add_working_compiler(FakeLauncher& launcher);

// A file that exists, for the helpers' paths (torchexam-sandbox,
// torchexam-runner): the fake never runs them, but the harness checks that
// they exist. Sets TORCHEXAM_SANDBOX and TORCHEXAM_RUNNER for its life.
class FakeHelpers {
 public:
  explicit FakeHelpers(const std::filesystem::path& dir);
  ~FakeHelpers();
  FakeHelpers(const FakeHelpers&) = delete;
  FakeHelpers& operator=(const FakeHelpers&) = delete;

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace torchexam::test
