// server_messages.hpp — the methods only the proctored server has
// (docs/server.md, docs/protocol.md §8): logging in with a token, asking who
// the connection is, and the examiner's list and extension. Typed as
// messages.hpp's are, converted in server_messages.cpp with the same rules
// (params refuse unknown fields; results ignore them). And the server's
// task/upload: a source or a TorchScript model sent over the network, then
// submitted; task/save: one sent to be checked on save, not submitted;
// workspace/layout: what a candidate's machine needs to lay their
// workspace out (`torchexam join`).
#pragma once

#include "protocol/messages.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::protocol {

namespace method {
inline constexpr const char* auth_login = "auth/login";
inline constexpr const char* auth_whoami = "auth/whoami";
inline constexpr const char* exam_list = "exam/list";
inline constexpr const char* exam_extend = "exam/extend";
inline constexpr const char* task_upload = "task/upload";
inline constexpr const char* task_save = "task/save";
inline constexpr const char* workspace_layout = "workspace/layout";
// A logged-in client's keep-alive: answered {} at once, so a connection that
// waits for a long grading is not taken for a quiet one (--keepalive-timeout).
inline constexpr const char* ping = "$/ping";
}  // namespace method

namespace error_code {
// A candidate over the server's submission rate (--max-submissions-per-minute)
// or request rate (--max-requests-per-second); the error's data is
// {"retry_after_ms": N}.
inline constexpr int rate_limited = -32008;
}  // namespace error_code

// The largest source task/upload takes, in bytes.
inline constexpr size_t kMaxUploadBytes = size_t{512} << 10;
// The largest TorchScript model task/upload takes, in bytes: 6 MiB, half as
// much again as the largest practice reference's (text_classification's,
// 4.0 MiB of weights); its base64 is 8 MiB (docs/server.md).
inline constexpr size_t kMaxModelBytes = size_t{6} << 20;

// True when task/upload carries `file` as bytes (source_base64): a
// TorchScript model, named as the grader takes one (.pt, .pth: its
// is_torchscript). Any other
// file is a source and travels as UTF-8 text (source).
bool is_model_file(std::string_view file);

// auth/login: the first request on a TLS connection.
struct LoginParams {
  std::string token;
  friend bool operator==(const LoginParams&, const LoginParams&) = default;
};

// auth/login's and auth/whoami's result.
struct Identity {
  std::string role;  // "candidate" | "examiner"
  std::string name;
  std::string environment;             // a candidate's environment ("" : any installed one)
  std::optional<std::string> session;  // a candidate's session, once started
  // The server drops a logged-in connection from which no whole request
  // has come for this long (--keepalive-timeout): the client sends $/ping
  // well within it while it waits. Absent: no such timeout.
  std::optional<double> keepalive_s;
  friend bool operator==(const Identity&, const Identity&) = default;
};

// exam/extend: more time for one session (the examiner).
struct ExtendParams {
  std::string session;
  double seconds = 0;
  friend bool operator==(const ExtendParams&, const ExtendParams&) = default;
};

// exam/list: every session the server holds (the examiner).
struct SessionList {
  std::vector<ExamStatus> sessions;
  friend bool operator==(const SessionList&, const SessionList&) = default;
};

// task/upload: the candidate's source or model, written into their task
// folder on the server (replacing `file` there) and submitted, as
// task/submit then does. `source` holds the file's bytes; how they travel
// follows from the name (is_model_file): a model's as "source_base64" (at
// most kMaxModelBytes once decoded), any other file's as "source", UTF-8
// text of at most kMaxUploadBytes. Reading params refuses both fields or
// neither, the other field for the name, and base64 that does not decode
// (saying what is wrong), as any params that do not read: invalid_params.
struct UploadParams {
  std::string session;
  std::string workspace;
  std::string task;
  std::string file = "solution.cpp";
  std::string source;  // the bytes
  friend bool operator==(const UploadParams&, const UploadParams&) = default;
};

struct Uploaded {
  int64_t submission = 0;
  int queue_position = 0;
  std::string source_sha256;  // of the bytes the server stored
  int64_t bytes = 0;
  friend bool operator==(const Uploaded&, const Uploaded&) = default;
};

// task/save: the candidate's saved text (UploadParams, the same checks),
// written into their task folder on the server and not submitted; the
// server's watcher then checks it as on a local save, and the diagnostics
// come back as workspace/diagnostics. How `torchexam lsp` in a joined
// workspace gets diagnostics on save (docs/server.md).
struct Saved {
  std::string source_sha256;
  int64_t bytes = 0;
  friend bool operator==(const Saved&, const Saved&) = default;
};

// workspace/layout: the files of a session's workspace a candidate's
// machine may hold. Per task: README.md (the statement) and solution.cpp
// (the server's copy: the starter, or what was last uploaded or saved);
// never a reference, data or anything else of the server's. The machine
// writes CMakeLists.txt and compile_commands.json itself, from the
// compiler settings here and its own LibTorch and SDK folders.
struct LayoutFile {
  std::string name;  // a file name in the task folder
  std::string text;  // UTF-8
  friend bool operator==(const LayoutFile&, const LayoutFile&) = default;
};

struct LayoutTask {
  std::string id;
  std::string title;
  std::vector<LayoutFile> files;
  friend bool operator==(const LayoutTask&, const LayoutTask&) = default;
};

struct WorkspaceLayout {
  std::string session;
  std::string environment;  // its name
  std::string compiler_std;
  std::vector<std::string> compiler_flags;  // the environment's own `compiler: flags:`
  std::string compiler_id;                  // "gcc" | "clang" | "" (the build's own)
  std::vector<LayoutTask> tasks;
  friend bool operator==(const WorkspaceLayout&, const WorkspaceLayout&) = default;
};

namespace rpc {
inline constexpr Call<UploadParams, Uploaded> task_upload{method::task_upload};
inline constexpr Call<UploadParams, Saved> task_save{method::task_save};
inline constexpr Call<SessionParams, WorkspaceLayout> workspace_layout{method::workspace_layout};
inline constexpr Call<LoginParams, Identity> auth_login{method::auth_login};
inline constexpr Call<Empty, Identity> auth_whoami{method::auth_whoami};
inline constexpr Call<Empty, Empty> ping{method::ping};
inline constexpr Call<Empty, SessionList> exam_list{method::exam_list};
inline constexpr Call<ExtendParams, ExamStatus> exam_extend{method::exam_extend};
}  // namespace rpc

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const LoginParams& x);
LoginParams tag_invoke(boost::json::value_to_tag<LoginParams>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Identity& x);
Identity tag_invoke(boost::json::value_to_tag<Identity>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const ExtendParams& x);
ExtendParams tag_invoke(boost::json::value_to_tag<ExtendParams>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const SessionList& x);
SessionList tag_invoke(boost::json::value_to_tag<SessionList>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const UploadParams& x);
UploadParams tag_invoke(boost::json::value_to_tag<UploadParams>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Uploaded& x);
Uploaded tag_invoke(boost::json::value_to_tag<Uploaded>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Saved& x);
Saved tag_invoke(boost::json::value_to_tag<Saved>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const LayoutFile& x);
LayoutFile tag_invoke(boost::json::value_to_tag<LayoutFile>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const LayoutTask& x);
LayoutTask tag_invoke(boost::json::value_to_tag<LayoutTask>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const WorkspaceLayout& x);
WorkspaceLayout tag_invoke(boost::json::value_to_tag<WorkspaceLayout>, const boost::json::value& v);

}  // namespace torchexam::protocol
