// syntax_checker.hpp — the syntax check of a task's solution when the
// candidate saves it, and the diagnostics of the last check per task.
//
// check() queues a check; checks run one at a time on a thread of their
// own (a save never waits for grading, nor grading for a save). When one
// ends, its diagnostics replace the task's earlier ones and go to the
// ExamListener (on_diagnostics).
//
// Threads: check(), diagnostics(), busy() and join() on the io thread; the
// CheckFn runs on the checker's thread.
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
#include <set>
#include <string>
#include <utility>
#include <vector>

namespace torchexam {

class SyntaxChecker {
 public:
  // Checks `file` with `options`, giving up after `timeout_s`.
  using CheckFn = std::function<std::vector<Diagnostic>(const CompilerOptions& options,
                                                        const std::filesystem::path& file, double timeout_s)>;
  // Compiler(options).check_syntax(file, timeout_s).
  static std::vector<Diagnostic> compile_check(const CompilerOptions& options, const std::filesystem::path& file,
                                               double timeout_s);

  // `io` and `out` must outlive the checker.
  SyntaxChecker(const IoHandoff& io, ExamListener& out, double timeout_s, CheckFn check = compile_check);

  // The tasks of `env` whose solution.cpp is among `changed` (files under
  // `workspace`, one folder per task).
  static std::set<std::string> tasks_touched(const std::filesystem::path& workspace, const config::Environment& env,
                                             const std::vector<std::filesystem::path>& changed);

  // Queues a check of `task`'s solution file in `session`.
  void check(const std::string& session, const std::string& task, const std::filesystem::path& file,
             CompilerOptions options);
  // From the last check of that task, or empty.
  const std::vector<Diagnostic>& diagnostics(const std::string& session, const std::string& task) const;
  bool busy() const { return thread_.busy() > 0; }
  void join() { thread_.join(); }

  // Moves whenever a task's diagnostics change.
  uint64_t generation() const { return generation_; }

 private:
  ExamListener& out_;
  const double timeout_s_;
  const CheckFn check_;
  WorkerThreads thread_;
  std::map<std::pair<std::string, std::string>, std::vector<Diagnostic>> last_;  // by (session, task)
  uint64_t generation_ = 0;
};

}  // namespace torchexam
