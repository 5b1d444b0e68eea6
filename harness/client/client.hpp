// client.hpp — a blocking JSON-RPC client of torchexamd, for the CLI (and
// tests): one Unix-socket connection through a protocol::SocketChannel
// that runs on the client's own io_context while a call waits for its
// answer or next_notification() for a note (io_context::run_one_until:
// Asio's timed wait); requests answered in order, notifications queued
// until the caller asks for them. Also how the language server reaches the
// daemon: the same connect-or-start, handing over the socket.
//
// Errors: ConnectError when nobody listens on the socket; protocol::RpcError
// (with the daemon's code and message) for an error response;
// protocol::ReplyError (naming the method and the field) for a result or
// notification whose shape is not its method's; ConnectionLost (a
// std::runtime_error) when the daemon goes away ("torchexamd closed the
// connection (...)", from then on) or stops answering keep-alive pings;
// std::runtime_error when it sends a malformed frame ("torchexamd sent a
// malformed frame: ...", once).
// Threads: one at a time.
//
// Over TLS (connect_tls, the proctored server of docs/server.md): the same
// channel over protocol::TlsStream; the server's certificate is verified
// against the CA file and must name the host asked for; the connection logs
// in with the token before it is handed back. A refused login is
// protocol::RpcError (unauthorized) with the server's words; a server that
// cannot be reached, or whose certificate does not verify, ConnectError.
// When the login's answer names the server's keep-alive timeout, the client
// pings ($/ping) at a third of it whenever it has sent nothing for that long
// while it waits (a call, next_notification), so a long wait for a grading
// is not taken for a quiet connection; a ping left unanswered for three
// such periods (at least 10 s) ends the connection (ConnectionLost).
// reconnect_tls() connects again after a lost connection, with back-off.
//
// Closing: the destructor closes the stream; over TLS that sends a
// close_notify and waits up to half a second for the server's.
#pragma once

#include "base/process.hpp"
#include "protocol/channel.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/tls_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace torchexam {

class ConnectError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The connection went away after it was made (the daemon closed it, or the
// server stopped answering keep-alive pings).
class ConnectionLost : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where the proctored server is and how to log in to it.
struct RemoteOptions {
  std::string host;
  uint16_t port = 0;
  std::string ca_file;
  std::string token;
  std::chrono::milliseconds timeout{10'000};  // to connect and finish the handshake
  // How long reconnect_tls() keeps trying after a lost connection.
  std::chrono::milliseconds reconnect_for{300'000};
};

// HOST:PORT into `o` (an IPv6 address in brackets); "" when it reads, else
// what is wrong.
std::string parse_server_address(const std::string& text, RemoteOptions& o);
// The token on the first line of `path`, blanks trimmed. Throws
// std::runtime_error naming the file when it cannot be read, is empty, or
// others than its owner may read it (with the chmod that fixes it).
std::string read_token_file(const std::filesystem::path& path);

// The options for the server `server` (HOST:PORT), logging in with the
// token in `token_file`, verified against `ca_file` (the three flags, or a
// joined workspace's config): "" when they do, else what is wrong (the
// address, a missing flag, read_token_file's message).
std::string remote_options(const std::string& server, const std::string& ca_file, const std::string& token_file,
                           RemoteOptions& o);

// Connects to the server on `io` and finishes the TLS handshake (running
// `io` until then, at most o.timeout), the certificate verified against
// `ctx` (protocol::make_client_context) and o.host; not logged in.
// ConnectError as connect_tls.
protocol::TlsStream connect_tls_stream(boost::asio::io_context& io, boost::asio::ssl::context& ctx,
                                       const RemoteOptions& o);
// The same without blocking, for a caller that runs its own loop (the
// language server): `done` runs once on `io`, with the stream, or with
// nullopt and what connect_tls_stream would have thrown. `ctx` must outlive
// the attempt and the stream.
void async_connect_tls_stream(boost::asio::io_context& io, boost::asio::ssl::context& ctx, const RemoteOptions& o,
                              std::function<void(std::optional<protocol::TlsStream>, std::string error)> done);

struct Notification {
  std::string method;
  boost::json::value params;
};

class Client {
 public:
  static std::unique_ptr<Client> connect(const std::filesystem::path& socket);
  // The proctored server, logged in (see above).
  static std::unique_ptr<Client> connect_tls(const RemoteOptions& o);
  // Over a socket connected on `io`.
  Client(std::unique_ptr<boost::asio::io_context> io, boost::asio::local::stream_protocol::socket socket);
  // Over a TLS stream whose handshake is done; `keep` lives as long as the
  // client (the SSL context).
  Client(std::unique_ptr<boost::asio::io_context> io, protocol::TlsStream stream, std::shared_ptr<void> keep);
  ~Client();

  // A method by its signature (protocol/messages.hpp's rpc::): the params
  // written and the result read as its types.
  template <class P, class R>
  R call(const protocol::Call<P, R>& method, const P& params) {
    return protocol::read_result(method, call(method.name, boost::json::value_from(params)));
  }
  // The raw exchange, for tests of the wire itself.
  boost::json::value call(std::string_view method, boost::json::value params);
  // The next notification, waiting up to `timeout` (0: only what has
  // arrived); nullopt on timeout.
  std::optional<Notification> next_notification(std::chrono::milliseconds timeout);
  // Sends $/ping whenever nothing has been sent for `every` while waiting
  // (zero: never); see above.
  void keepalive(std::chrono::milliseconds every);

 private:
  void receive(const std::string& body);
  void send(std::string_view body);
  // Pings when due; the time to wake up for the next keep-alive step.
  std::chrono::steady_clock::time_point keep_alive();
  // Runs the channel until `done()` or `deadline` (then false); what has
  // already arrived is read even when the deadline has passed.
  bool wait(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline);

  template <class Stream>
  void attach(Stream stream);

  std::unique_ptr<boost::asio::io_context> io_;
  // The channel (a SocketChannel or a TLS one) behind two calls.
  std::shared_ptr<void> keep_, channel_;  // keep_ (the SSL context) outlives the channel
  std::function<void(std::string_view)> send_;
  std::function<void()> close_;
  std::deque<Notification> notes_;
  int64_t next_id_ = 1;
  int64_t awaited_ = 0;  // the id of the call waiting for its answer
  std::optional<std::variant<boost::json::value, protocol::RpcError>> answer_;
  std::optional<std::string> bad_frame_, closed_;  // why the daemon could not be read
  std::chrono::milliseconds keepalive_{0};
  std::chrono::steady_clock::time_point last_sent_ = std::chrono::steady_clock::now();
  std::optional<std::pair<int64_t, std::chrono::steady_clock::time_point>> ping_;  // unanswered: id, sent at
};

// connect_tls(o) again after a lost connection: tried at once, then after a
// quarter of a second, doubling up to 5 s, until it works or
// o.reconnect_for has passed since the call. `failed` hears each failure's
// message. Throws ConnectError with the last failure when it gives up, and
// protocol::RpcError at once when the login is refused (a revoked token).
std::unique_ptr<Client> reconnect_tls(const RemoteOptions& o, const std::function<void(const std::string&)>& failed);

// Connects, starting `daemon_exe --socket SOCKET` through `launcher`
// (detached, logging to `log`) when nobody listens yet and `autostart` is
// set; waits up to 10 s for it to come up, and says at once what the log
// says when it exits before. ConnectError when it cannot.
boost::asio::local::stream_protocol::socket connect_or_start(boost::asio::io_context& io,
                                                             const std::filesystem::path& socket,
                                                             const std::filesystem::path& daemon_exe,
                                                             const std::filesystem::path& log, bool autostart,
                                                             ProcessLauncher& launcher = system_launcher());
// The same, as a Client.
std::unique_ptr<Client> connect_or_start(const std::filesystem::path& socket, const std::filesystem::path& daemon_exe,
                                         const std::filesystem::path& log, bool autostart,
                                         ProcessLauncher& launcher = system_launcher());

}  // namespace torchexam
