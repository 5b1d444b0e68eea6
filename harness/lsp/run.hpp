// run.hpp — `torchexam lsp`: the language server on stdin/stdout.
//
// Connects to torchexamd on `socket` (starting `daemon_exe` when nobody
// listens, as the CLI does), or, with `remote`, to the proctored server
// over TLS (logging in with the token first; docs/server.md), then serves
// until the editor sends `exit` or closes stdin. If the daemon or server
// cannot be reached the server still answers the editor and says why with
// window/showMessage. Returns the exit status: 0 after shutdown+exit, 1
// otherwise. Nothing but LSP frames goes to stdout.
#pragma once

#include "client/client.hpp"

#include <filesystem>
#include <optional>
#include <string>

namespace torchexam::lsp {

struct RunOptions {
  std::filesystem::path socket;
  std::filesystem::path daemon_exe;
  std::filesystem::path daemon_log;
  std::string version;
  // The proctored server instead of the local daemon, and where its
  // session is laid out here (the joined workspace; empty: the editor's root).
  std::optional<RemoteOptions> remote;
  std::filesystem::path remote_workspace;
};

int run(const RunOptions& options);

}  // namespace torchexam::lsp
