// diagnostics_book.hpp — the diagnostics the server has published, per file,
// from two sources: the daemon's syntax check on save and the last
// submission's verdict. textDocument/publishDiagnostics replaces a file's
// whole list, so every change republishes both parts together.
//
// Policy: a new syntax check replaces the syntax part and clears the
// submission part (the file changed since it was submitted). An error both
// parts report is published once, as the submission's.
#pragma once

#include "lsp/lsp_types.hpp"
#include "lsp/rpc_peer.hpp"

#include <filesystem>
#include <map>
#include <vector>

namespace torchexam::lsp {

class DiagnosticsBook {
 public:
  explicit DiagnosticsBook(Endpoint& editor) : editor_(editor) {}

  void set_syntax(const std::filesystem::path& file, std::vector<Diagnostic> ds);
  void set_submission(const std::filesystem::path& file, std::vector<Diagnostic> ds);
  // Publishes the file's current list again (e.g. when it is opened).
  void republish(const std::filesystem::path& file);

 private:
  struct Entry {
    std::vector<Diagnostic> syntax, submission;
  };
  void publish(const std::filesystem::path& file, const Entry& e);
  Endpoint& editor_;
  std::map<std::filesystem::path, Entry> files_;
};

}  // namespace torchexam::lsp
