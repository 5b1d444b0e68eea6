// run.hpp — `torchexam lsp`: the language server on stdin/stdout.
//
// Connects to torchexamd on `socket` (starting `daemon_exe` when nobody
// listens, as the CLI does), then serves until the editor sends `exit` or
// closes stdin. If the daemon cannot be reached the server still answers the
// editor and says why with window/showMessage. Returns the exit status: 0
// after shutdown+exit, 1 otherwise. Nothing but LSP frames goes to stdout.
#pragma once

#include <filesystem>
#include <string>

namespace torchexam::lsp {

struct RunOptions {
  std::filesystem::path socket;
  std::filesystem::path daemon_exe;
  std::filesystem::path daemon_log;
  std::string version;
};

int run(const RunOptions& options);

}  // namespace torchexam::lsp
