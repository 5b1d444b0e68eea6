#include "daemon/tls_server.hpp"

#include "base/base64.hpp"
#include "base/hash.hpp"
#include "protocol/framing.hpp"
#include "protocol/server_messages.hpp"

#include <fmt/format.h>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

namespace torchexam::daemon {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;
using TlsChannel = protocol::Channel<protocol::TlsStream>;

struct TlsServer::Connection {
  Connection(asio::io_context& io, tcp::socket s, ssl::context& ctx)
      : tls(std::in_place, std::move(s), ctx), timer(io) {}
  std::optional<protocol::TlsSocket> tls;     // until the channel takes it
  std::optional<protocol::TlsStream> stream;  // shares the channel's stream (when_drained)
  std::shared_ptr<TlsChannel> channel;
  asio::steady_timer timer;  // the idle timeout until the login, then the keep-alive timeout
  Caller caller;             // the peer, and who once logged in
  SteadyTime last_request;   // when the last whole request came
  bool gone = false;
};

namespace {

tcp::endpoint endpoint_of(const std::string& host, uint16_t port) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(host == "localhost" ? "127.0.0.1" : host, ec);
  if (ec)
    throw std::runtime_error(
        fmt::format("--listen {}:{}: '{}' is not an IP address of this machine (give one, e.g. "
                    "127.0.0.1 or 0.0.0.0)",
                    host, port, host));
  return {address, port};
}

// The largest frame a TLS client may send: room for task/upload's largest
// model in base64 (8 MiB for 6 MiB) and the JSON around it, 64 KiB, and so
// for its 512 KiB source however JSON escapes it (a control character
// becomes six bytes, 3 MiB); about half the Unix socket's 16 MiB. A larger
// body is skipped unread and answered with a framing error (channel.hpp).
constexpr size_t kMaxTlsBody = base64_size(protocol::kMaxModelBytes) + (size_t{64} << 10);
static_assert(kMaxTlsBody > 6 * protocol::kMaxUploadBytes + (size_t{64} << 10));

std::string seconds(std::chrono::milliseconds ms) { return fmt::format("{:g} s", ms.count() / 1000.0); }

// What the request gate takes of the server's options.
GateOptions gate_options(const TlsServerOptions& o) {
  GateOptions g{o.access, o.log, o.audit, o.submissions_per_minute, o.requests_per_second, o.request_burst, {}};
  if (o.keepalive_timeout.count() > 0) g.keepalive_s = std::chrono::duration<double>(o.keepalive_timeout).count();
  return g;
}

}  // namespace

TlsServer::TlsServer(asio::io_context& io, TlsServerOptions options, const protocol::Binder& binder)
    : io_(io),
      o_(std::move(options)),
      gate_(gate_options(o_), binder),
      ctx_(protocol::make_server_context(o_.cert_file, o_.key_file)),
      acceptor_(io) {
  if (!o_.log) o_.log = [](const std::string& line) { fmt::print(stderr, "torchexamd: {}\n", line); };
  const tcp::endpoint ep = endpoint_of(o_.host, o_.port);
  boost::system::error_code ec;
  acceptor_.open(ep.protocol(), ec);
  if (!ec) ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);  // no grading child holds the port
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(ep, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor_.non_blocking(true, ec);
  if (ec) throw std::runtime_error(fmt::format("cannot listen on {}:{}: {}", o_.host, o_.port, ec.message()));
}

TlsServer::~TlsServer() { stop(); }

uint16_t TlsServer::port() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec).port();
}

void TlsServer::start() { accept(); }

void TlsServer::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (const auto& c : std::set<std::shared_ptr<Connection>>(connections_)) drop(c, "");
}

void TlsServer::accept() {
  acceptor_.async_wait(tcp::acceptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // stopped
    // Close-on-exec from the first moment, as the Unix socket's (server.cpp).
    const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
        o_.log(fmt::format("accepting a TLS client failed: {}", std::strerror(errno)));
      return accept();
    }
    tcp::socket socket(io_);
    boost::system::error_code assign_ec;
    socket.assign(acceptor_.local_endpoint().protocol(), fd, assign_ec);
    if (assign_ec) {
      ::close(fd);
      return accept();
    }
    auto c = std::make_shared<Connection>(io_, std::move(socket), ctx_);
    boost::system::error_code peer_ec;
    const auto remote = c->tls->lowest_layer().remote_endpoint(peer_ec);
    c->caller.peer = peer_ec ? "?" : fmt::format("{}:{}", remote.address().to_string(), remote.port());
    connections_.insert(c);
    c->timer.expires_after(o_.idle_timeout);
    c->timer.async_wait([this, weak = std::weak_ptr(c)](const boost::system::error_code& timer_ec) {
      auto conn = weak.lock();
      if (timer_ec || !conn || conn->caller.who) return;
      gate_.audit(conn->caller, "idle", "", "no login within " + seconds(o_.idle_timeout));
      drop(conn,
           fmt::format("dropped {}: no login within {} (--idle-timeout)", conn->caller.peer, seconds(o_.idle_timeout)));
    });
    // The first byte says TLS or not: a TLS client's first record is a handshake (0x16).
    c->tls->next_layer().async_wait(tcp::socket::wait_read, [this, c](const boost::system::error_code& wait_ec) {
      if (wait_ec || c->gone) return drop(c, "");
      unsigned char first = 0;
      const ssize_t n = ::recv(c->tls->next_layer().native_handle(), &first, 1, MSG_PEEK);
      if (n <= 0) return drop(c, "");  // gone before saying anything
      if (first != 0x16) return refuse_plaintext(c, first);
      handshake(c);
    });
    accept();
  });
}

void TlsServer::refuse_plaintext(const std::shared_ptr<Connection>& c, unsigned char first) {
  o_.log(
      fmt::format("refused a plaintext connection from {} on the TLS port (its first byte is 0x{:02x}, not a TLS "
                  "handshake); clients connect with torchexam --server HOST:PORT --ca-file FILE --token-file FILE",
                  c->caller.peer, first));
  gate_.audit(c->caller, "plaintext", "", fmt::format("first byte 0x{:02x}", first));
  auto reply = std::make_shared<std::string>(protocol::encode_frame(protocol::make_error(
      nullptr, protocol::error_code::invalid_request,
      "this port speaks TLS only (TorchExam's proctored server): connect with torchexam --server HOST:PORT "
      "--ca-file CA_FILE --token-file TOKEN_FILE")));
  asio::async_write(c->tls->next_layer(), asio::buffer(*reply),
                    [this, c, reply](const boost::system::error_code&, size_t) {
                      // What the client sent is read first and a FIN sent: closing with
                      // unread input would reset the connection, and the client could lose
                      // the answer.
                      if (c->tls) {
                        const int fd = c->tls->next_layer().native_handle();
                        char sink[4096];
                        while (::recv(fd, sink, sizeof sink, MSG_DONTWAIT) > 0) {
                        }
                        ::shutdown(fd, SHUT_WR);
                      }
                      drop(c, "");
                    });
}

void TlsServer::handshake(const std::shared_ptr<Connection>& c) {
  c->tls->async_handshake(ssl::stream_base::server, [this, c](const boost::system::error_code& ec) {
    if (c->gone) return;
    if (ec) {
      gate_.audit(c->caller, "handshake_failed", "", ec.message());
      return drop(c, fmt::format("TLS handshake with {} failed: {}", c->caller.peer, ec.message()));
    }
    open_channel(c);
  });
}

void TlsServer::open_channel(const std::shared_ptr<Connection>& c) {
  protocol::TlsStream stream(std::move(*c->tls));
  c->tls.reset();
  c->stream = stream;
  c->channel = std::make_shared<TlsChannel>(std::move(stream), kMaxTlsBody);
  c->channel->set_max_queued(o_.max_queued_bytes);
  const std::weak_ptr<Connection> weak = c;
  c->channel->start({[this, weak](std::string body) {
                       if (auto conn = weak.lock()) handle(conn, body);
                     },
                     [weak](const std::string& error) {
                       if (auto conn = weak.lock())
                         conn->channel->send(
                             protocol::make_error(nullptr, protocol::error_code::parse_error, "bad framing: " + error));
                     },
                     [this, weak](const boost::system::error_code& why) {
                       auto conn = weak.lock();
                       if (!conn) return;
                       if (why == asio::error::no_buffer_space && !conn->gone) {
                         const std::string what = fmt::format(
                             "it does not read what the server sends: more than {:g} MiB waited (--max-queued-mib)",
                             static_cast<double>(o_.max_queued_bytes) / (1024 * 1024));
                         gate_.audit(conn->caller, "slow_reader", "", what);  // before the log line tests wait for
                         o_.log(fmt::format("dropped {}: {}", describe(conn->caller), what));
                         return forget(conn.get());
                       }
                       // The client's own close (not the server's drop, which is gone by now).
                       if (conn->caller.who && !conn->gone && why != asio::error::operation_aborted)
                         o_.log(why == asio::error::eof
                                    ? fmt::format("{} closed the connection", describe(conn->caller))
                                    : fmt::format("{} went away ({})", describe(conn->caller), why.message()));
                       forget(conn.get());
                     }});
}

void TlsServer::handle(const std::shared_ptr<Connection>& c, const std::string& body) {
  if (c->caller.who) {
    c->last_request = std::chrono::steady_clock::now();
    return gate_.handle(
        c->caller, body,
        [weak = std::weak_ptr(c)](std::string reply) {
          if (auto conn = weak.lock(); conn && conn->channel) conn->channel->send(reply);
        },
        c->last_request);
  }
  auto parsed = protocol::parse_message(body);
  if (auto* failure = std::get_if<protocol::ParseFailure>(&parsed))
    return c->channel->send(protocol::make_error(failure->id, failure->code, failure->message));
  auto& m = std::get<protocol::Message>(parsed);
  if (m.kind == protocol::Message::Kind::response) return;
  const bool request = m.kind == protocol::Message::Kind::request;
  if (m.method == protocol::method::auth_login && request) return login(c, m);
  o_.log(fmt::format("{}: {} before a login; closing", c->caller.peer, m.method));
  if (request)
    c->channel->send(
        protocol::make_error(m.id, protocol::error_code::unauthorized,
                             "log in first: the first request on this connection must be auth/login with your token"));
  c->stream->when_drained([weak = std::weak_ptr(c->channel)] {
    if (auto ch = weak.lock()) ch->close();
  });
}

void TlsServer::login(const std::shared_ptr<Connection>& c, const protocol::Message& m) {
  try {
    const auto p = protocol::read_params<protocol::LoginParams>(m.params);
    Principal who = o_.authenticate(p.token);
    c->timer.cancel();
    o_.log(
        fmt::format("{} logged in as {} {} (token {})", c->caller.peer, to_string(who.role), who.name, who.selector));
    c->caller.who = who;
    gate_.audit(c->caller, "login", m.method, "token " + who.selector);
    c->channel->send(protocol::make_result(m.id, boost::json::value_from(gate_.identity(who))));
    c->last_request = std::chrono::steady_clock::now();
    watch_quiet(c);
    return;
  } catch (const protocol::RpcError& e) {
    c->channel->send(
        protocol::make_error(m.id, protocol::error_code::unauthorized, std::string("auth/login: ") + e.what()));
    o_.log(fmt::format("{}: login refused: {}", c->caller.peer, e.what()));
    gate_.audit(c->caller, "login_refused", m.method, e.what());
  } catch (const AuthError& e) {
    c->channel->send(protocol::make_error(m.id, protocol::error_code::unauthorized, e.what()));
    o_.log(fmt::format("{}: login refused: {}", c->caller.peer, e.what()));
    gate_.audit(c->caller, "login_refused", m.method, e.what());
  }
  c->stream->when_drained([weak = std::weak_ptr(c->channel)] {
    if (auto ch = weak.lock()) ch->close();
  });
}

void TlsServer::watch_quiet(const std::shared_ptr<Connection>& c) {
  if (o_.keepalive_timeout.count() <= 0 || c->gone) return;
  // One wait at a time, to the last request's time plus the timeout; a
  // request meanwhile moves the mark and the wait is renewed from it.
  c->timer.expires_at(c->last_request + o_.keepalive_timeout);
  c->timer.async_wait([this, weak = std::weak_ptr(c)](const boost::system::error_code& ec) {
    auto conn = weak.lock();
    if (ec || !conn || conn->gone) return;
    if (std::chrono::steady_clock::now() < conn->last_request + o_.keepalive_timeout) return watch_quiet(conn);
    const std::string why = "no whole request within " + seconds(o_.keepalive_timeout) + " (--keepalive-timeout)";
    gate_.audit(conn->caller, "quiet", "", why);
    drop(conn, fmt::format("dropped {}: {}", describe(conn->caller), why));
  });
}

void TlsServer::drop(const std::shared_ptr<Connection>& c, const std::string& why) {
  if (c->gone) return;
  if (!why.empty()) o_.log(why);
  c->timer.cancel();
  if (c->channel) return c->channel->close();  // its on_close forgets it
  boost::system::error_code ignored;
  if (c->tls) {
    c->tls->lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
    c->tls->lowest_layer().close(ignored);
  }
  forget(c.get());
}

void TlsServer::forget(Connection* gone) {
  for (auto it = connections_.begin(); it != connections_.end(); ++it)
    if (it->get() == gone) {
      (*it)->gone = true;
      (*it)->timer.cancel();
      asio::post(io_, [keep = *it] {});  // released after the current handler, which may hold it
      connections_.erase(it);
      return;
    }
}

bool TlsServer::reaches(const Connection& c, const std::string& session) {
  const auto& who = c.caller.who;
  if (!who) return false;
  if (who->role == Role::examiner) return true;
  if (session.empty()) return false;
  auto it = owners_.find(session);
  if (it == owners_.end()) it = owners_.emplace(session, o_.access.owner_of(session)).first;
  return it->second == who->name;
}

void TlsServer::recheck() {
  if (!o_.lapsed) return;
  for (const auto& c : std::vector<std::shared_ptr<Connection>>(connections_.begin(), connections_.end())) {
    if (!c->caller.who || c->gone) continue;
    const std::string why = o_.lapsed(*c->caller.who);
    if (why.empty()) continue;
    gate_.audit(c->caller, "closed", "", why);
    drop(c, fmt::format("closed {}: {}", describe(c->caller), why));
  }
}

void TlsServer::broadcast(const std::string& body, const std::string& session) {
  const std::vector<std::shared_ptr<Connection>> all(connections_.begin(), connections_.end());
  for (const auto& c : all)
    if (c->channel && reaches(*c, session)) c->channel->send(body);
}

}  // namespace torchexam::daemon
