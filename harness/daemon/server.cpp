#include "server.hpp"

#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <sys/stat.h>

namespace torchexam::daemon {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

Connection::Connection(local::socket socket, const protocol::Binder& binder, std::function<void(Connection*)> on_close)
    : socket_(std::move(socket)), binder_(binder), on_close_(std::move(on_close)) {}

void Connection::start() { read(); }

void Connection::read() {
  socket_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
    if (ec) {
      self->close();
      return;
    }
    self->reader_.feed(std::string_view(self->buf_.data(), n));
    while (auto next = self->reader_.next()) {
      if (auto* frame = std::get_if<protocol::Frame>(&*next))
        self->handle(frame->body);
      else
        self->send(protocol::make_error(nullptr, protocol::error_code::parse_error,
                                        "bad framing: " + std::get<protocol::FramingError>(*next).message));
    }
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
  if (!writing_) write();
}

void Connection::write() {
  writing_ = true;
  asio::async_write(socket_, asio::buffer(out_.front()),
                    [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                      self->out_.pop_front();
                      self->writing_ = false;
                      if (ec) {
                        self->close();
                        return;
                      }
                      if (!self->out_.empty() && self->open_) self->write();
                    });
}

void Connection::close() {
  if (!open_) return;
  open_ = false;
  boost::system::error_code ignored;
  socket_.shutdown(local::socket::shutdown_both, ignored);
  socket_.close(ignored);
  if (on_close_) on_close_(this);
}

Server::Server(asio::io_context& io, std::filesystem::path socket_path, const protocol::Binder& binder)
    : io_(io), path_(std::move(socket_path)), binder_(binder), acceptor_(io) {
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
  if (bec) throw std::runtime_error("cannot listen on " + path_.string() + ": " + bec.message());
  ::chmod(path_.c_str(), 0600);
}

Server::~Server() { stop(); }

void Server::start() { accept(); }

void Server::accept() {
  acceptor_.async_accept([this](const boost::system::error_code& ec, local::socket socket) {
    if (ec) return;  // stopped
    ::fcntl(socket.native_handle(), F_SETFD, FD_CLOEXEC);
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
  if (acceptor_.is_open()) {
    acceptor_.close(ignored);
    std::error_code ec;
    std::filesystem::remove(path_, ec);
  }
  for (auto c : std::set<std::shared_ptr<Connection>>(connections_)) c->close();
}

void Server::broadcast(const std::string& body) {
  for (const auto& c : connections_) c->send(body);
}

}  // namespace torchexam::daemon
