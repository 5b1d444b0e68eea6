// server.hpp — the daemon's transport: a Unix-socket acceptor and one
// Connection per client, speaking LSP-framed JSON-RPC (swappable: the
// Connection only moves frames; the Binder decides what they mean).
//
// Failure behaviour: a framing error or a message that is not JSON-RPC is
// answered with the matching JSON-RPC error and the connection stays open; a
// client that disconnects mid-request harms nothing (replies to it are
// dropped). Threads: everything runs on the io_context's one thread.
//
// Write path: replies and notifications are queued per connection and
// handed to the kernel together, with one sendmsg (up to 64 frames) per
// flush, in the order they were queued. What handling the requests of one
// read queues (their replies, and notifications they cause) is flushed once,
// after the last of them; anything else is flushed at once. When the socket is full the rest waits
// for it to become writable (nothing is ever dropped while the connection is
// open); a write error closes the connection and drops what was queued.
#pragma once

#include "protocol/framing.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <deque>
#include <filesystem>
#include <memory>
#include <set>
#include <string>

namespace torchexam::daemon {

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::local::stream_protocol::socket socket, const protocol::Binder& binder,
             std::function<void(Connection*)> on_close);
  void start();
  void send(std::string body);  // frames and queues; dropped once closed
  void close();
  bool open() const { return open_; }

 private:
  void read();
  void handle(const std::string& body);
  void flush();  // writes what is queued, as far as the socket takes it
  void consume(size_t n);

  boost::asio::local::stream_protocol::socket socket_;
  const protocol::Binder& binder_;
  std::function<void(Connection*)> on_close_;
  protocol::FrameReader reader_;
  std::array<char, 65536> buf_{};
  std::deque<std::string> out_;  // framed messages not yet (fully) written
  size_t out_offset_ = 0;         // bytes of out_.front() already written
  bool reading_batch_ = false;    // handling the frames of one read: flush after the last
  bool waiting_writable_ = false;
  bool open_ = true;
};

class Server {
 public:
  // Binds `socket_path` (its folder must exist with mode 0700; a stale socket
  // file is replaced) with mode 0600. Throws std::runtime_error.
  Server(boost::asio::io_context& io, std::filesystem::path socket_path, const protocol::Binder& binder);
  ~Server();
  void start();
  void stop();
  // Sends a notification to every connected client.
  void broadcast(const std::string& body);
  size_t connections() const { return connections_.size(); }

 private:
  void accept();
  boost::asio::io_context& io_;
  std::filesystem::path path_;
  const protocol::Binder& binder_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_;  // accept() again after EMFILE and the like
  bool accept_error_reported_ = false;
  std::set<std::shared_ptr<Connection>> connections_;
};

}  // namespace torchexam::daemon
