// server_admin.hpp — torchexamd's proctored-server flags (docs/server.md):
// serving TLS (--listen, --tls-cert, --tls-key, --idle-timeout,
// --keepalive-timeout, --max-submissions-per-minute,
// --max-requests-per-second, --request-burst, --server-mode, --workspaces) and administering its tokens in the state
// folder's store (--add-candidate, --add-examiner, --revoke, --list-tokens)
// and reading its audit log (--list-audit), which run, print and exit
// without serving.
//
// Why the token commands live in torchexamd and not in `torchexam serve`:
// they write the server's store, and torchexamd is the program that owns
// that state folder (the same --state-dir); `torchexam` is what candidates
// run, and no request of the protocol issues a token, so no network path
// leads to one.
#pragma once

#include "base/clock.hpp"
#include "daemon/tls_server.hpp"
#include "exam/exam_service.hpp"
#include "store/store.hpp"

#include <CLI/CLI.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace torchexam::daemon {

struct ServerFlags {
  std::string listen;  // HOST:PORT; empty: no TLS server
  std::string host;
  uint16_t port = 0;
  std::string cert, key;
  double idle_timeout_s = 30;
  double keepalive_timeout_s = 60;  // 0: none
  double max_queued_mib = 64;       // what may wait to be sent to one connection; 0: no cap
  int submissions_per_minute = 6;
  double requests_per_second = 20;  // 0: no limit
  double request_burst = 200;
  std::string mode = "exam";
  std::filesystem::path workspaces;  // default <state>/candidates
  std::string add_candidate, add_examiner, environment, expires_in, revoke;
  bool list_tokens = false;
  bool list_audit = false;
};

void add_server_flags(CLI::App& app, ServerFlags& f);

// After parsing: checks the server flags (a message and 2 when they do not
// fit together), runs a token command when one was given (its exit status),
// else nullopt: serve.
std::optional<int> run_token_admin(ServerFlags& f, const std::filesystem::path& state);

// In exam mode, throws std::runtime_error when this machine lacks a layer
// of the sandbox floor a proctored exam needs (pid_namespace, cgroup_memory,
// seccomp), naming each and its fix; in practice mode only warns. Forks (the
// probe): call before starting threads.
void check_server_floor(const ServerFlags& f);

// Makes the server's state folder and the candidates' workspaces private to
// the user it runs as (created 0700; one that others may enter is closed to
// 0700, and the log says so): candidates with an account on the grading host
// must not read each other's work, the database or the job folders. Throws
// when one belongs to another user. Warns when other users can reach
// `data_dir` (the hidden data sets). Before serving.
void secure_server_folders(const ServerFlags& f, const std::filesystem::path& state,
                           const std::filesystem::path& data_dir);

// The TLS server's options: the access context over `service` and `db`.
TlsServerOptions tls_server_options(const ServerFlags& f, const std::filesystem::path& state, store::Store& db,
                                    const Clock& clock, ExamService& service);

}  // namespace torchexam::daemon
