#include "lsp/diagnostics_book.hpp"

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
  std::vector<Diagnostic> all = e.syntax;
  all.insert(all.end(), e.submission.begin(), e.submission.end());
  editor_.notify("textDocument/publishDiagnostics", publish_diagnostics(file_uri(file.lexically_normal()), all));
}

}  // namespace torchexam::lsp
