#include "exam/syntax_checker.hpp"

namespace torchexam {
namespace fs = std::filesystem;

std::vector<Diagnostic> SyntaxChecker::compile_check(const CompilerOptions& options, const fs::path& file,
                                                     double timeout_s) {
  return Compiler(options).check_syntax(file, timeout_s);
}

SyntaxChecker::SyntaxChecker(const IoHandoff& io, ExamListener& out, double timeout_s, CheckFn check)
    : out_(out), timeout_s_(timeout_s), check_(std::move(check)), thread_(io, 1) {}

std::set<std::string> SyntaxChecker::tasks_touched(const fs::path& workspace, const config::Environment& env,
                                                   const std::vector<fs::path>& changed) {
  std::set<std::string> tasks;
  for (const auto& p : changed) {
    const fs::path rel = p.lexically_relative(workspace);
    auto it = rel.begin();
    if (rel.empty() || it == rel.end() || *it == "..") continue;
    const std::string task = it->string();
    if (p.filename() == "solution.cpp" && env.find_task(task)) tasks.insert(task);
  }
  return tasks;
}

void SyntaxChecker::check(const std::string& session, const std::string& task, const fs::path& file,
                          CompilerOptions options) {
  options.timeout_s = timeout_s_;
  thread_.run<std::vector<Diagnostic>>(
      [this, options = std::move(options), file] { return check_(options, file, timeout_s_); },
      [this, session, task, file](std::exception_ptr failed, std::vector<Diagnostic> diags) {
        if (failed) {
          try {
            std::rethrow_exception(failed);
          } catch (const std::exception& e) {
            diags = {{"warning", file.string(), 0, 0, std::string("syntax check failed: ") + e.what()}};
          } catch (...) {
            diags = {{"warning", file.string(), 0, 0, "syntax check failed"}};
          }
        }
        ++generation_;
        last_[{session, task}] = diags;
        out_.on_diagnostics(session, task, file, diags);
      });
}

const std::vector<Diagnostic>& SyntaxChecker::diagnostics(const std::string& session, const std::string& task) const {
  static const std::vector<Diagnostic> kNone;
  auto it = last_.find({session, task});
  return it == last_.end() ? kNone : it->second;
}

}  // namespace torchexam
