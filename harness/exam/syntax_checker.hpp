// syntax_checker.hpp — the syntax check of a task's solution when the
// candidate saves it, and the diagnostics of the last check per task.
//
// check() queues a check; checks run one at a time on a thread of their
// own (a save never waits for grading, nor grading for a save). When one
// ends, its diagnostics replace the task's earlier ones and go to the
// ExamListener (on_diagnostics).
//
// Who checks is a SaveChecker: g++ -fsyntax-only by default (GccSaveChecker),
// or one the daemon provides (a warm clangd per session,
// daemon/clangd_checker.hpp). Save-time diagnostics are advisory: the
// grading build (g++) has the final word.
//
// Threads: check(), end_session(), diagnostics(), busy() and join() on the
// io thread; every SaveChecker call runs on the checker's thread.
// Failure: a check that throws (the compiler cannot start, say) reports
// one warning diagnostic with the reason, never an exception.
#pragma once

#include "config/config.hpp"
#include "exam/io_handoff.hpp"
#include "exam/listener.hpp"
#include "grading/compiler.hpp"

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace torchexam {

// One save-time check: the saved file of `task` in `session`. The file's
// folder is the task's workspace folder (its compile_commands.json beside it).
struct SaveCheck {
  std::string session;
  std::string task;
  std::filesystem::path file;
  CompilerOptions options;  // the environment's; options.timeout_s == timeout_s
  double timeout_s = 30;
};

// What checks a saved file. Every call on the SyntaxChecker's one thread.
class SaveChecker {
 public:
  virtual ~SaveChecker() = default;
  // The diagnostics of the file as saved (Diagnostic as the build gives
  // them). Throws only for the checker's own failure.
  virtual std::vector<Diagnostic> check(const SaveCheck& c) = 0;
  // `session` ended: let go of what it holds (a process). No check of it follows.
  virtual void end_session(const std::string& session) { (void)session; }
};

// Compiler(options).check_syntax(file, timeout_s): g++ -fsyntax-only with the
// precompiled LibTorch header, in the compiler's sandbox; nothing kept
// between checks.
class GccSaveChecker final : public SaveChecker {
 public:
  std::vector<Diagnostic> check(const SaveCheck& c) override;
};

class SyntaxChecker {
 public:
  // Checks `file` with `options`, giving up after `timeout_s` (a stateless check, as tests give one).
  using CheckFn = std::function<std::vector<Diagnostic>(const CompilerOptions& options,
                                                        const std::filesystem::path& file, double timeout_s)>;

  // `io` and `out` must outlive the checker. Null `checker`: GccSaveChecker.
  SyntaxChecker(const IoHandoff& io, ExamListener& out, double timeout_s, std::shared_ptr<SaveChecker> checker = {});
  SyntaxChecker(const IoHandoff& io, ExamListener& out, double timeout_s, CheckFn check);

  // The tasks of `env` whose solution.cpp is among `changed` (files under
  // `workspace`, one folder per task).
  static std::set<std::string> tasks_touched(const std::filesystem::path& workspace, const config::Environment& env,
                                             const std::vector<std::filesystem::path>& changed);

  // Queues a check of `task`'s solution file in `session`. `then`, when
  // given, hears the check's diagnostics on the io thread after the
  // listener did (a speculative build starts from it, speculative_builds.hpp);
  // not when the check itself failed.
  using Then = std::function<void(const std::vector<Diagnostic>&)>;
  void check(const std::string& session, const std::string& task, const std::filesystem::path& file,
             CompilerOptions options, Then then = {});
  // Queues SaveChecker::end_session after the checks already queued.
  void end_session(const std::string& session);
  // From the last check of that task, or empty.
  const std::vector<Diagnostic>& diagnostics(const std::string& session, const std::string& task) const;
  bool busy() const { return thread_.busy() > 0; }
  void join() { thread_.join(); }

  // Moves whenever a task's diagnostics change.
  uint64_t generation() const { return generation_; }

 private:
  ExamListener& out_;
  const double timeout_s_;
  const std::shared_ptr<SaveChecker> checker_;
  WorkerThreads thread_;  // after checker_: joined before the checker goes
  std::map<std::pair<std::string, std::string>, std::vector<Diagnostic>> last_;  // by (session, task)
  uint64_t generation_ = 0;
};

}  // namespace torchexam
