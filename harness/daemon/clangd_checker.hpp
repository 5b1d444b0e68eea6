// clangd_checker.hpp — the warm save-time checker: one clangd per exam
// session, kept running, so a save is reparsed against a preamble of the
// LibTorch headers that is already in memory instead of loading the 570 MB
// precompiled header into a fresh g++ each time (issue 21, item 1).
//
// A session's clangd starts at its first check, through the launcher's
// start_piped() inside torchexam-sandbox (as the g++ check runs: an
// `#include "/etc/shadow"` finds no such file; it reads the workspace, the
// SDK and the system, writes only a job folder under the cache), and stops
// with the session (end_session) or the checker. It is spoken to over its
// stdin and stdout with the protocol's framed channel and JSON-RPC
// helpers: initialize, then per file the compile command
// (workspace/didChangeConfiguration, clangd's compilationDatabaseChanges),
// textDocument/didOpen, and for every later save textDocument/didChange
// with the full text; the check waits for the textDocument/publishDiagnostics
// of that version and maps it to the Diagnostic records of the g++ check.
//
// The compile command is the task folder's compile_commands.json entry
// (what provisioning wrote, the flags of grading without the harness's
// own), else the environment's flags, made fit for clang by clang_command().
//
// Fallback to the g++ check (`fallback`, GccSaveChecker by default), with
// the reason written to `log` once per session and reason: clangd missing,
// failing to start or to initialize, exiting (a crash, a kill: the next
// check starts a new one), or not answering within the check's timeout
// (the process is kept: it may be building its preamble). A file's first
// parse builds the preamble (tens of seconds for LibTorch): with
// answer_cold_with_gcc (the daemon's choice) that save, and any save
// before clangd has published for the file once, is answered by g++ at
// once while clangd builds it behind.
//
// Severities: clang's errors are errors, the missing-include error (a fatal
// one in both compilers) is "fatal error" and, as in g++, the last
// diagnostic given, warnings are warnings, notes (clangd's related
// information) are notes; clangd's remarks and hints are dropped (g++
// gives none). Save-time diagnostics are advisory; the g++ build has the
// final word (docs/protocol.md, workspace/diagnostics, says what a
// candidate sees where the compilers disagree).
//
// Threads: every call on one thread at a time (SyntaxChecker's). Each
// session's io_context runs only inside check().
#pragma once

#include "base/process.hpp"
#include "exam/syntax_checker.hpp"

#include <sys/types.h>

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace torchexam::daemon {

struct ClangdOptions {
  std::filesystem::path clangd = "clangd";  // a path, or a name looked up on the PATH
  std::filesystem::path work_dir;           // job folders and logs of the clangds (the build cache)
  bool answer_cold_with_gcc = true;         // see above
  bool sandbox = true;                      // false: clangd runs as it is (tests of the protocol only)
  ProcessLauncher* launcher = nullptr;      // nullptr: system_launcher()
  std::shared_ptr<SaveChecker> fallback;    // nullptr: GccSaveChecker
  std::function<void(const std::string&)> log;  // empty: stderr, "torchexamd: ..."
};

class ClangdChecker final : public SaveChecker {
 public:
  explicit ClangdChecker(ClangdOptions options);
  ~ClangdChecker() override;
  ClangdChecker(const ClangdChecker&) = delete;
  ClangdChecker& operator=(const ClangdChecker&) = delete;

  std::vector<Diagnostic> check(const SaveCheck& c) override;
  void end_session(const std::string& session) override;

  // Who answered the checks so far (for tests and the benchmark).
  struct Counts {
    int started = 0;  // clangd processes started
    int clangd = 0;   // checks answered by clangd
    int gcc = 0;      // checks answered by the fallback
  };
  const Counts& counts() const { return counts_; }
  // The pid of the session's clangd (torchexam-sandbox's when sandboxed), or nullopt.
  std::optional<pid_t> pid(const std::string& session) const;

 private:
  struct Server;
  // The fallback's answer; `why` is logged once per `key`.
  std::vector<Diagnostic> fall_back(const SaveCheck& c, const std::string& key, const std::string& why);
  void say_once(const std::string& key, const std::string& session, const std::string& what);
  std::unique_ptr<Server> start(const SaveCheck& c);

  ClangdOptions o_;
  ProcessLauncher& launcher_;
  std::filesystem::path clangd_;  // resolved; empty when there is none
  std::map<std::string, std::unique_ptr<Server>> servers_;  // by session
  std::map<std::string, int> starts_;                       // clangds started, by session
  std::map<std::string, std::string> given_up_;             // sessions g++ alone checks, and why
  std::set<std::string> logged_;                            // session + reason, said once
  Counts counts_;
};

// The command clangd parses `file` with, from the g++ command (a
// compile_commands.json entry's "arguments", or the compiler and its flags):
// g++-only flags clang rejects or that mean nothing to it are dropped, an
// `-include` of a header with a GCC precompiled header beside it (clang
// cannot read a .gch) and the harness's precompiled <torchexam/solution.h>
// become `-include <SDK>/torchexam/solution.h` (the forced include every
// compile of candidate code gets), and flags keeping clang's diagnostics
// in step with g++'s are added.
std::vector<std::string> clang_command(const std::vector<std::string>& gcc_command);

}  // namespace torchexam::daemon
