// run.hpp — `torchexam lsp`: the language server on stdin/stdout.
//
// Talks to torchexamd on `socket` (starting `daemon_exe` when nobody
// listens, as the CLI does), or, with `remote`, to the proctored server
// over TLS (logging in with the token first; docs/server.md), then serves
// until the editor sends `exit` or closes stdin. Nothing but LSP frames goes
// to stdout; returns the exit status: 0 after shutdown+exit, 1 otherwise.
//
// Which one: `remote` when given (the flags, or a joined workspace around
// the working folder: cli/main.cpp). Without it the choice waits for the
// editor's initialize: a root folder (rootUri, workspaceFolders) inside a
// joined workspace (.torchexam/server.json, client/workspace_config.hpp)
// names the server; otherwise the local daemon.
//
// The server is connected without blocking the editor: what the editor
// asks before the login has been answered is sent after it. When the
// connection drops after that (the server restarted, the network gone, its
// keep-alive answers missing) the language server says so, tries again with
// client/backoff.hpp's schedule for `reconnect_for` (or remote's), logs in
// again and has the LspServer find its session again; meanwhile requests
// fail at once with "... reconnecting" (LspServer::connection_lost). A login
// refused (a revoked token) or the window passed ends the trying, with a
// message. If the daemon or server cannot be reached at the start the
// server still answers the editor and says why with window/showMessage
// (no retry: restart the language server).
#pragma once

#include "client/client.hpp"

#include <chrono>
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
  // How long to keep reconnecting to a server found from the editor's root
  // folder (a server given in `remote` has its own reconnect_for).
  std::chrono::milliseconds reconnect_for{300'000};
};

int run(const RunOptions& options);

}  // namespace torchexam::lsp
