// server_messages.hpp — the methods only the proctored server has
// (docs/server.md, docs/protocol.md §8): logging in with a token, asking who
// the connection is, and the examiner's list and extension. Typed as
// messages.hpp's are, converted in server_messages.cpp with the same rules
// (params refuse unknown fields; results ignore them). And the server's
// task/upload: a source sent over the network, then submitted.
#pragma once

#include "protocol/messages.hpp"

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::protocol {

namespace method {
inline constexpr const char* auth_login = "auth/login";
inline constexpr const char* auth_whoami = "auth/whoami";
inline constexpr const char* exam_list = "exam/list";
inline constexpr const char* exam_extend = "exam/extend";
inline constexpr const char* task_upload = "task/upload";
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

// task/upload: the candidate's source, written into their task folder on
// the server (replacing `file` there) and submitted, as task/submit then
// does. Text only (UTF-8), at most kMaxUploadBytes.
struct UploadParams {
  std::string session;
  std::string workspace;
  std::string task;
  std::string file = "solution.cpp";
  std::string source;
  friend bool operator==(const UploadParams&, const UploadParams&) = default;
};

struct Uploaded {
  int64_t submission = 0;
  int queue_position = 0;
  std::string source_sha256;  // of the bytes the server stored
  int64_t bytes = 0;
  friend bool operator==(const Uploaded&, const Uploaded&) = default;
};

namespace rpc {
inline constexpr Call<UploadParams, Uploaded> task_upload{method::task_upload};
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

}  // namespace torchexam::protocol
