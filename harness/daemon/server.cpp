#include "daemon/server.hpp"

#include <boost/asio/post.hpp>
#include <fmt/core.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace torchexam::daemon {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

Server::Server(asio::io_context& io, std::filesystem::path socket_path, const protocol::Binder& binder)
    : io_(io), path_(std::move(socket_path)), binder_(binder), acceptor_(io), retry_(io) {
  std::error_code ec;
  std::filesystem::remove(path_, ec);
  const mode_t old = ::umask(0077);  // the socket is created 0600
  boost::system::error_code bec;
  acceptor_.open(local(), bec);
  // Not inherited by the compilers and runners the daemon starts: a child
  // holding the listening socket would accept connections for a daemon
  // that is gone.
  if (!bec) ::fcntl(acceptor_.native_handle(), F_SETFD, FD_CLOEXEC);
  if (!bec) acceptor_.bind(local::endpoint(path_.string()), bec);
  ::umask(old);
  if (!bec) acceptor_.listen(asio::socket_base::max_listen_connections, bec);
  if (!bec) acceptor_.non_blocking(true, bec);  // accept() may find the backlog empty after a wake-up
  if (bec) throw std::runtime_error("cannot listen on " + path_.string() + ": " + bec.message());
  ::chmod(path_.c_str(), 0600);
}

Server::~Server() { stop(); }

void Server::start() { accept(); }

void Server::accept() {
  acceptor_.async_wait(local::acceptor::wait_read, [this](const boost::system::error_code& ec) {
    if (ec) return;  // stopped
    // accept4 makes the socket close-on-exec from its first moment: with a
    // separate fcntl, a runner forked on a worker thread in between would
    // inherit the client's socket and keep the connection open after the
    // daemon closed it.
    const int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0) {
      const int err = errno;
      if (err == EAGAIN || err == EWOULDBLOCK || err == EINTR || err == ECONNABORTED) return accept();
      // Out of descriptors or memory: the connection waits in the backlog
      // and is taken when a client has gone, instead of the daemon going
      // deaf to every new client for good.
      if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
        if (!accept_error_reported_)
          fmt::print(stderr, "torchexamd: cannot accept a client ({}); retrying every 100 ms\n", std::strerror(err));
        accept_error_reported_ = true;
        retry_.expires_after(std::chrono::milliseconds(100));
        retry_.async_wait([this](const boost::system::error_code& wait_ec) {
          if (!wait_ec) accept();
        });
        return;
      }
      fmt::print(stderr, "torchexamd: accepting clients failed: {}; no new client will be served\n", std::strerror(err));
      return;
    }
    accept_error_reported_ = false;
    boost::system::error_code assign_ec;
    local::socket socket(io_);
    socket.assign(local(), fd, assign_ec);
    if (assign_ec) {
      ::close(fd);
      return accept();
    }
    serve(std::move(socket));
    accept();
  });
}

void Server::serve(local::socket socket) {
  auto client = std::make_shared<protocol::SocketChannel>(std::move(socket));
  connections_.insert(client);
  const std::weak_ptr<protocol::SocketChannel> weak = client;
  client->start({[this, weak](std::string body) {
                   if (auto c = weak.lock()) handle(c, body);
                 },
                 [weak](const std::string& error) {
                   if (auto c = weak.lock())
                     c->send(protocol::make_error(nullptr, protocol::error_code::parse_error, "bad framing: " + error));
                 },
                 [this, gone = client.get()](const boost::system::error_code&) {
                   for (auto it = connections_.begin(); it != connections_.end(); ++it)
                     if (it->get() == gone) {
                       // Release after the current handler: it may still hold `gone`.
                       asio::post(io_, [keep = *it] {});
                       connections_.erase(it);
                       break;
                     }
                 }});
}

void Server::handle(const std::shared_ptr<protocol::SocketChannel>& client, const std::string& body) {
  auto parsed = protocol::parse_message(body);
  if (auto* failure = std::get_if<protocol::ParseFailure>(&parsed))
    return client->send(protocol::make_error(failure->id, failure->code, failure->message));
  const auto& m = std::get<protocol::Message>(parsed);
  if (m.kind == protocol::Message::Kind::response) return;  // clients do not answer us
  binder_.dispatch(m, [weak = std::weak_ptr(client)](std::string reply) {
    if (auto c = weak.lock()) c->send(reply);
  });
}

void Server::stop() {
  boost::system::error_code ignored;
  retry_.cancel();
  if (acceptor_.is_open()) {
    acceptor_.close(ignored);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  for (const auto& c : std::set<std::shared_ptr<protocol::SocketChannel>>(connections_)) c->close();
}

void Server::broadcast(const std::string& body) {
  // A send may close its connection at once (the peer is gone), which
  // erases it from connections_: walk a copy.
  const std::vector<std::shared_ptr<protocol::SocketChannel>> all(connections_.begin(), connections_.end());
  for (const auto& c : all) c->send(body);
}

}  // namespace torchexam::daemon
