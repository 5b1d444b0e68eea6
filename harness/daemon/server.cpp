#include "daemon/server.hpp"

#include <boost/asio/read.hpp>
#include <fmt/core.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

namespace torchexam::daemon {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

Connection::Connection(local::socket socket, const protocol::Binder& binder, std::function<void(Connection*)> on_close)
    : socket_(std::move(socket)), binder_(binder), on_close_(std::move(on_close)) {}

void Connection::start() {
  // Writes are tried at once and never block the io thread: a full socket
  // means waiting for it to become writable (flush()).
  boost::system::error_code ec;
  socket_.non_blocking(true, ec);
  if (ec) return close();
  read();
}

void Connection::read() {
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
    if (ec) {
      self->close();
      return;
    }
    self->reader_.feed(std::string_view(self->buf_.data(), n));
    // Every request of this read is answered before anything is written: the
    // replies go out together, in order.
    self->reading_batch_ = true;
    while (auto next = self->reader_.next()) {
      if (auto* frame = std::get_if<protocol::Frame>(&*next))
        self->handle(frame->body);
      else
        self->send(protocol::make_error(nullptr, protocol::error_code::parse_error,
                                        "bad framing: " + std::get<protocol::FramingError>(*next).message));
    }
    self->reading_batch_ = false;
    self->flush();
    if (self->open_) self->read();
  });
}

void Connection::handle(const std::string& body) {
  auto parsed = protocol::parse_message(body);
  if (auto* failure = std::get_if<protocol::ParseFailure>(&parsed)) {
    send(protocol::make_error(failure->id, failure->code, failure->message));
    return;
  }
  const auto& m = std::get<protocol::Message>(parsed);
  if (m.kind == protocol::Message::Kind::response) return;  // clients do not answer us
  std::weak_ptr<Connection> weak = shared_from_this();
  binder_.dispatch(m, [weak](std::string reply) {
    if (auto self = weak.lock()) self->send(std::move(reply));
  });
}

void Connection::send(std::string body) {
  if (!open_) return;
  out_.push_back(protocol::encode_frame(body));
  if (!reading_batch_) flush();
}

void Connection::flush() {
  while (open_ && !waiting_writable_ && !out_.empty()) {
    // One sendmsg for as many queued frames as fit in its iovec.
    std::array<asio::const_buffer, 64> buffers;
    size_t count = 0;
    for (auto it = out_.begin(); it != out_.end() && count < buffers.size(); ++it, ++count)
      buffers[count] = asio::buffer(*it) + (count == 0 ? out_offset_ : 0);
    boost::system::error_code ec;
    const size_t n = socket_.send(std::span(buffers.data(), count), 0, ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      waiting_writable_ = true;
      socket_.async_wait(local::socket::wait_write, [self = shared_from_this()](const boost::system::error_code& wait_ec) {
        self->waiting_writable_ = false;
        if (wait_ec) return self->close();
        self->flush();
      });
      return;
    }
    if (ec) return close();
    consume(n);
  }
}

// Drops the first `n` bytes of the queue (frames written whole, and the part
// of the next one).
void Connection::consume(size_t n) {
  while (n > 0 && !out_.empty()) {
    const size_t left = out_.front().size() - out_offset_;
    if (n < left) {
      out_offset_ += n;
      return;
    }
    n -= left;
    out_.pop_front();
    out_offset_ = 0;
  }
}

void Connection::close() {
  if (!open_) return;
  open_ = false;
  out_.clear();
  out_offset_ = 0;
  boost::system::error_code ignored;
  socket_.shutdown(local::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (on_close_) on_close_(this);
}

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
    auto c = std::make_shared<Connection>(std::move(socket), binder_, [this](Connection* gone) {
      for (auto it = connections_.begin(); it != connections_.end(); ++it)
        if (it->get() == gone) {
          // Release after the current handler: it may still hold `gone`.
          asio::post(io_, [keep = *it] {});
          connections_.erase(it);
          break;
        }
    });
    connections_.insert(c);
    c->start();
    accept();
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
  for (auto c : std::set<std::shared_ptr<Connection>>(connections_)) c->close();
}

void Server::broadcast(const std::string& body) {
  // A send may close its connection at once (the peer is gone), which
  // erases it from connections_: walk a copy.
  const std::vector<std::shared_ptr<Connection>> all(connections_.begin(), connections_.end());
  for (const auto& c : all) c->send(body);
}

}  // namespace torchexam::daemon
