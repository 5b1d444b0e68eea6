#include "lsp/diagnostics_book.hpp"

#include <algorithm>

namespace torchexam::lsp {

void DiagnosticsBook::set_syntax(const std::filesystem::path& file, std::vector<Diagnostic> ds) {
  Entry& e = files_[file.lexically_normal()];
  e.syntax = std::move(ds);
  e.submission.clear();
  publish(file, e);
}

void DiagnosticsBook::set_submission(const std::filesystem::path& file, std::vector<Diagnostic> ds) {
  Entry& e = files_[file.lexically_normal()];
  e.submission = std::move(ds);
  publish(file, e);
}

void DiagnosticsBook::republish(const std::filesystem::path& file) {
  if (auto it = files_.find(file.lexically_normal()); it != files_.end()) publish(file, it->second);
}

void DiagnosticsBook::publish(const std::filesystem::path& file, const Entry& e) {
  // The submission's copy of an error the syntax check also found wins: it
  // says the submission failed there, and the editor shows it once.
  std::vector<Diagnostic> all = e.submission;
  for (const auto& d : e.syntax) {
    const bool twice = std::any_of(e.submission.begin(), e.submission.end(), [&](const Diagnostic& s) {
      return s.message == d.message && s.range.start.line == d.range.start.line &&
             s.range.start.character == d.range.start.character;
    });
    if (!twice) all.push_back(d);
  }
  editor_.notify("textDocument/publishDiagnostics", publish_diagnostics(file_uri(file.lexically_normal()), all));
}

}  // namespace torchexam::lsp
