#include "exam/syntax_checker.hpp"

namespace torchexam {
namespace fs = std::filesystem;

namespace {

// A CheckFn as a SaveChecker.
class FnSaveChecker final : public SaveChecker {
 public:
  explicit FnSaveChecker(SyntaxChecker::CheckFn fn) : fn_(std::move(fn)) {}
  std::vector<Diagnostic> check(const SaveCheck& c) override { return fn_(c.options, c.file, c.timeout_s); }

 private:
  SyntaxChecker::CheckFn fn_;
};

}  // namespace

std::vector<Diagnostic> GccSaveChecker::check(const SaveCheck& c) {
  return Compiler(c.options).check_syntax(c.file, c.timeout_s);
}

SyntaxChecker::SyntaxChecker(const IoHandoff& io, ExamListener& out, double timeout_s,
                             std::shared_ptr<SaveChecker> checker)
    : out_(out),
      timeout_s_(timeout_s),
      checker_(checker ? std::move(checker) : std::make_shared<GccSaveChecker>()),
      thread_(io, 1) {}

SyntaxChecker::SyntaxChecker(const IoHandoff& io, ExamListener& out, double timeout_s, CheckFn check)
    : SyntaxChecker(io, out, timeout_s, std::make_shared<FnSaveChecker>(std::move(check))) {}

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
                          CompilerOptions options, Then then) {
  options.timeout_s = timeout_s_;
  thread_.run<std::vector<Diagnostic>>(
      [this, c = SaveCheck{session, task, file, std::move(options), timeout_s_}] { return checker_->check(c); },
      [this, session, task, file, then = std::move(then)](std::exception_ptr failed, std::vector<Diagnostic> diags) {
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
        if (then && !failed) then(diags);
      });
}

void SyntaxChecker::end_session(const std::string& session) {
  thread_.post([checker = checker_, session] {
    try {
      checker->end_session(session);
    } catch (...) {
      // Letting go of a session's process fails only with the process already gone.
    }
  });
}

const std::vector<Diagnostic>& SyntaxChecker::diagnostics(const std::string& session, const std::string& task) const {
  static const std::vector<Diagnostic> kNone;
  auto it = last_.find({session, task});
  return it == last_.end() ? kNone : it->second;
}

}  // namespace torchexam
