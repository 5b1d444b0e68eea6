// tls_server.hpp — the proctored server's listening side (docs/server.md):
// TCP with TLS 1.3 beside the Unix socket (server.hpp), serving the same
// Binder through the same framed channel (protocol::Channel over
// protocol::TlsStream), with a login and the access table in front.
//
// A connection, in order:
//  1. Its first byte is peeked: one that cannot start a TLS record (0x16) is
//     a plaintext client. The server logs it and answers with one framed
//     JSON-RPC error (invalid_request: "this port speaks TLS only ...") in
//     plain text, then closes.
//  2. The TLS handshake (a client that does not trust the certificate ends
//     it; the server logs OpenSSL's reason).
//  3. The first request must be auth/login {token} (credentials.hpp): a
//     wrong, expired or revoked token, or any other method first, is
//     answered with `unauthorized` and the connection closed once the answer
//     is out.
//  4. Then every body goes to the RequestGate (request_gate.hpp): the
//     request rate, auth/whoami and $/ping, the access table, the
//     submission rate, the Binder, the audit log.
// A frame over 8 MiB and 64 KiB (room for task/upload's largest model in
// base64) is skipped and answered with a framing error.
// Steps 1-3 must complete within `idle_timeout`, or the connection is
// dropped (logged): a client that connects and sends nothing, or trickles a
// handshake, holds nothing for long. After the login, a connection from
// which no whole request (a frame that reads) has come for
// `keepalive_timeout` is dropped (logged and audited as "quiet"): one that
// went silent, or trickles a frame byte by byte (slowloris), or sends only
// garbage. A client that waits for a long grading sends $/ping within it
// (client.hpp; the login's Identity says how long it is). A connection
// whose token is revoked or expires is closed by the next recheck().
//
// Closing: an orderly close sends a TLS close_notify (tls_stream.hpp); the
// log says whether a logged-in client closed with one or just went away.
//
// Notifications: broadcast(body, session) reaches the examiners and, when
// `session` is set, the candidate who owns it; nobody else.
//
// Threads: everything on the io_context's one thread. Failure: a bad
// certificate or key, or a port in use, throws std::runtime_error from the
// constructor; per-connection failures are logged and end that connection.
#pragma once

#include "daemon/access.hpp"
#include "daemon/credentials.hpp"
#include "daemon/request_gate.hpp"
#include "protocol/channel.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/tls_stream.hpp"
#include "store/audit_log.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace torchexam::daemon {

struct TlsServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;  // 0: any free port (port() says which)
  std::string cert_file, key_file;
  std::chrono::milliseconds idle_timeout{30'000};
  // A logged-in connection without a whole request for this long is
  // dropped; zero: never.
  std::chrono::milliseconds keepalive_timeout{0};
  // The bytes that may wait to be sent to one connection (answers and
  // notes it has not read); beyond, it is dropped (logged and audited as
  // "slow_reader"); zero: no cap.
  size_t max_queued_bytes = 0;
  AccessContext access;
  // The principal of a token, or AuthError (credentials.hpp's authenticate).
  std::function<Principal(std::string_view token)> authenticate;
  // Why a logged-in principal is no longer let in ("" while it is;
  // credentials.hpp's lapsed); empty: never rechecked.
  std::function<std::string(const Principal&)> lapsed;
  // Where the server logs (one line per call; default: stderr).
  std::function<void(const std::string&)> log;
  // The audit log (store/audit_log.hpp): logins and their refusals,
  // refused calls, plaintext clients, failed handshakes, idle drops, and
  // every call the access table marks audited, with its outcome and, for
  // an upload, the source's SHA-256. Empty: none.
  std::function<void(store::AuditRecord)> audit;
  // At most this many task/submit and task/upload calls per candidate in
  // any 60 s (rate_limited beyond); 0: no limit.
  int submissions_per_minute = 0;
  // Requests of any kind per candidate: a bucket of `request_burst` that
  // refills at `requests_per_second` (rate_limited beyond); 0: no limit.
  double requests_per_second = 0;
  double request_burst = 1;
};

class TlsServer {
 public:
  TlsServer(boost::asio::io_context& io, TlsServerOptions options, const protocol::Binder& binder);
  ~TlsServer();
  void start();
  void stop();
  uint16_t port() const;
  void broadcast(const std::string& body, const std::string& session);
  // Closes every logged-in connection whose token was revoked or has
  // expired since its login (the daemon calls it every second).
  void recheck();
  size_t connections() const { return connections_.size(); }

 private:
  struct Connection;
  void accept();
  void refuse_plaintext(const std::shared_ptr<Connection>& c, unsigned char first);
  void handshake(const std::shared_ptr<Connection>& c);
  void open_channel(const std::shared_ptr<Connection>& c);
  void handle(const std::shared_ptr<Connection>& c, const std::string& body);
  void login(const std::shared_ptr<Connection>& c, const protocol::Message& m);
  // Drops `c` once no whole request has come for keepalive_timeout.
  void watch_quiet(const std::shared_ptr<Connection>& c);
  void drop(const std::shared_ptr<Connection>& c, const std::string& why);
  void forget(Connection* c);
  bool reaches(const Connection& c, const std::string& session);

  boost::asio::io_context& io_;
  TlsServerOptions o_;
  RequestGate gate_;
  boost::asio::ssl::context ctx_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::set<std::shared_ptr<Connection>> connections_;
  std::map<std::string, std::optional<std::string>> owners_;  // session -> candidate (a workspace never moves)
};

}  // namespace torchexam::daemon
