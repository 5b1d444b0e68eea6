// server.hpp — the daemon's listening side: a Unix-socket acceptor, and a
// protocol::SocketChannel per client (protocol/channel.hpp: framing,
// batching of replies, writes that never block) whose bodies go to the
// Binder. The server only routes: the channel moves frames, the Binder
// decides what they mean.
//
// Failure behaviour: a framing error or a message that is not JSON-RPC is
// answered with the matching JSON-RPC error and the connection stays open; a
// client that disconnects mid-request harms nothing (replies to it are
// dropped). Threads: everything runs on the io_context's one thread.
#pragma once

#include "protocol/channel.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>

#include <filesystem>
#include <memory>
#include <set>
#include <string>

namespace torchexam::daemon {

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
  void serve(boost::asio::local::stream_protocol::socket socket);
  void handle(const std::shared_ptr<protocol::SocketChannel>& client, const std::string& body);
  boost::asio::io_context& io_;
  std::filesystem::path path_;
  const protocol::Binder& binder_;
  boost::asio::local::stream_protocol::acceptor acceptor_;
  boost::asio::steady_timer retry_;  // accept() again after EMFILE and the like
  bool accept_error_reported_ = false;
  std::set<std::shared_ptr<protocol::SocketChannel>> connections_;
};

}  // namespace torchexam::daemon
