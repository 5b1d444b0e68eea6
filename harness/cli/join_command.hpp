// join_command.hpp — `torchexam join`, the candidate's side of the
// proctored server (docs/server.md):
//
//   torchexam join HOST:PORT --ca-file CA --token-file TOKEN [DIR] [--environment ENV] [--json]
//
// Logs in, starts the candidate's session when they have none (on a token
// without an environment, --environment names an installed one) or resumes
// the one they have, and lays the workspace out in DIR (default: this
// folder) from the server's workspace/layout: per task README.md (always
// the server's), solution.cpp (only where the folder has none: a
// candidate's solution is never overwritten), and CMakeLists.txt and
// compile_commands.json written here with this machine's LibTorch, SDK and
// compiler (exam/provision.hpp). No reference, data or other file of the
// server's reaches the machine. Then writes DIR/.torchexam/server.json
// (client/workspace_config.hpp: the address and the two files' paths, not
// the token), so that every later command in DIR runs against the server
// without the flags.
//
// Exit status: 0 joined; 1 the server refused a call (its message says
// why); 2 usage (a bad address, a missing CA file, a token file others may
// read, an examiner's token); 3 the server could not be reached, its
// certificate did not verify, or the login was refused; 4 a file could not
// be written here.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace torchexam::cli {

class JoinCommand {
 public:
  explicit JoinCommand(CLI::App& app);
  // The exit status when `join` was given, nullopt otherwise.
  std::optional<int> run();

 private:
  CLI::App* cmd_;
  std::string server_, ca_file_, token_file_, dir_, environment_;
  bool rejoin_ = false;  // --rejoin: a folder joined to another server or with another token
  bool json_ = false;
};

}  // namespace torchexam::cli
