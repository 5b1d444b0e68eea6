// workspace_config.hpp — the client config of a joined workspace
// (`torchexam join`, docs/server.md): <workspace>/.torchexam/server.json
// says which proctored server the folder belongs to, so that every later
// `torchexam` command and `torchexam lsp` run in it (or in a folder inside
// it) talks to that server without repeating the flags.
//
// It holds the server's HOST:PORT and the absolute paths of the CA file and
// the token file, never the token itself: the token stays in the file the
// examiner gave, with its own permissions.
//
// Errors: find() and read() throw std::runtime_error naming the file and
// what is wrong in it (and how to fix it: join again); write() throws
// std::runtime_error when the file cannot be written. Threads: any.
#pragma once

#include <filesystem>
#include <optional>
#include <string>

namespace torchexam {

struct WorkspaceConfig {
  std::string server;                // HOST:PORT
  std::filesystem::path ca_file;     // absolute
  std::filesystem::path token_file;  // absolute
  std::filesystem::path root;        // the workspace (not stored: where the file was found)
};

// <root>/.torchexam/server.json
std::filesystem::path workspace_config_file(const std::filesystem::path& root);

// The config of the workspace that holds `from` (a folder): the nearest
// .torchexam/server.json in it or a folder above. nullopt when there is none.
std::optional<WorkspaceConfig> find_workspace_config(const std::filesystem::path& from);

// Writes `c` to workspace_config_file(c.root), atomically.
void write_workspace_config(const WorkspaceConfig& c);

}  // namespace torchexam
