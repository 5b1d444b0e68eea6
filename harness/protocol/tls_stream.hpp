// tls_stream.hpp — the protocol's framed channel (channel.hpp) over TLS 1.3:
// TlsStream makes an Asio SSL stream (OpenSSL) over TCP into a Stream the
// Channel takes, so the proctored server and its clients move the same
// frames through the same reader, batching and write queue as the Unix
// socket. Asio SSL rather than Beast/WebSocket: every client of this
// protocol is a program of ours (the CLI, the language server) that speaks
// LSP framing already; a browser client is not planned, and WebSocket would
// add a second framing under the first (docs/server.md).
//
// Writing: the Channel wants a write_some that never blocks and a wait for
// writability. An SSL stream has neither (its writes go through OpenSSL's
// engine), so TlsStream keeps an outbox of up to `max_queued` bytes:
// write_some copies into it what fits and returns at once (would_block when
// it is full), one async_write at a time drains it, and
// async_wait(wait_write) completes once it has room again. Reading is the
// SSL stream's async_read_some; one read and one write may be outstanding
// at once (Asio's SSL stream is full duplex).
//
// Contract: as channel.hpp's Stream (one thread, the io_context's). A write
// error is kept and given to the next write_some and any waiter.
//
// close() is orderly: it sends a TLS close_notify (what was queued but not
// yet written is dropped, as the Channel drops its own queue) and closes
// the TCP socket once the peer has answered with its close_notify, or after
// kCloseNotifyWait; the peer's read ends with asio::error::eof, not
// "stream truncated". After a write error the socket closes at once. The
// close completes on the io_context: a user that stops running it right
// after close() may lose the close_notify (the Client runs it on).
#pragma once

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

namespace torchexam::protocol {

using TlsSocket = boost::asio::ssl::stream<boost::asio::ip::tcp::socket>;

class TlsStream {
 public:
  using wait_type = boost::asio::socket_base::wait_type;
  static constexpr wait_type wait_write = boost::asio::socket_base::wait_write;
  static constexpr std::chrono::milliseconds kCloseNotifyWait{500};

  explicit TlsStream(TlsSocket socket, size_t max_queued = size_t{1} << 20);

  template <class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) {
    s_->ssl.async_read_some(b, std::forward<Handler>(h));
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    ec = {};
    size_t n = 0;
    for (auto it = boost::asio::buffer_sequence_begin(buffers); it != boost::asio::buffer_sequence_end(buffers); ++it) {
      const boost::asio::const_buffer b(*it);
      const size_t taken = queue(static_cast<const char*>(b.data()), b.size(), ec);
      n += taken;
      if (ec || taken < b.size()) break;
    }
    if (n > 0) ec = {};
    return n;
  }
  template <class Handler>
  void async_wait(wait_type, Handler&& h) {
    wait(std::function<void(boost::system::error_code)>(std::forward<Handler>(h)));
  }
  void non_blocking(bool, boost::system::error_code& ec) { ec = {}; }
  void close(boost::system::error_code& ec);

  // Calls `f` once everything written so far has gone to the socket (or
  // failed, or the stream closed); checked after the current handler
  // returns, so a Channel's batched replies count as written. One at a time.
  void when_drained(std::function<void()> f);

  // The remote address, "host:port" ("?" once closed).
  std::string peer() const;

 private:
  struct State {
    explicit State(TlsSocket s) : ssl(std::move(s)) {}
    TlsSocket ssl;
    std::string outbox, writing;  // queued, and being written by the one async_write
    boost::system::error_code error;
    std::function<void(boost::system::error_code)> waiter;
    std::function<void()> drained;
    size_t max_queued = 0;
    bool closed = false;
  };
  size_t room() const;
  size_t queue(const char* data, size_t size, boost::system::error_code& ec);
  void wait(std::function<void(boost::system::error_code)> h);
  static void drain(const std::shared_ptr<State>& s);
  static void wake(const std::shared_ptr<State>& s, boost::system::error_code ec);
  static void check_drained(const std::shared_ptr<State>& s);
  static void close_socket(const std::shared_ptr<State>& s);
  std::shared_ptr<State> s_;
};

// A server context: TLS 1.3 only, the certificate chain and key of these
// files. Throws std::runtime_error naming the file and what is wrong with
// it (missing, not PEM, the key does not match the certificate).
boost::asio::ssl::context make_server_context(const std::string& cert_file, const std::string& key_file);
// A client context: TLS 1.3 only, the server's certificate verified against
// the CA certificates in `ca_file` (throws std::runtime_error when it does
// not load); the host name is checked per connection (tls_verify_host).
boost::asio::ssl::context make_client_context(const std::string& ca_file);
// Makes `socket` check that the server's certificate names `host` (a DNS
// name or an IP address) and sends it as SNI.
void tls_verify_host(TlsSocket& socket, const std::string& host);
// "what OpenSSL said" for a handshake failure, with the verification
// result when the certificate was refused ("certificate verify failed:
// unable to get local issuer certificate").
std::string tls_error_text(const boost::system::error_code& ec, TlsSocket& socket);

}  // namespace torchexam::protocol
