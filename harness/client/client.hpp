// client.hpp — a blocking JSON-RPC client of torchexamd, for the CLI (and
// tests): one Unix-socket connection, LSP framing, requests answered in
// order, notifications queued until the caller asks for them.
//
// Errors: ConnectError when nobody listens on the socket; protocol::RpcError
// (with the daemon's code and message) for an error response;
// std::runtime_error when the daemon goes away or answers garbage.
#pragma once

#include "base/process.hpp"
#include "protocol/framing.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <deque>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <string>

namespace torchexam {

class ConnectError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Notification {
  std::string method;
  boost::json::value params;
};

class Client {
 public:
  static std::unique_ptr<Client> connect(const std::filesystem::path& socket);

  boost::json::value call(std::string_view method, boost::json::value params);
  // The next notification, waiting up to `timeout`; nullopt on timeout.
  std::optional<Notification> next_notification(std::chrono::milliseconds timeout);

 private:
  explicit Client(boost::asio::io_context* io);
  // Reads one message body; false on timeout.
  bool read_body(std::string& body, std::chrono::milliseconds timeout);

  std::unique_ptr<boost::asio::io_context> io_;
  boost::asio::local::stream_protocol::socket socket_;
  protocol::FrameReader reader_;
  std::deque<Notification> notes_;
  int64_t next_id_ = 1;
};

// Connects, starting `daemon_exe --socket SOCKET` through `launcher`
// (detached, logging to `log`) when nobody listens yet and `autostart` is
// set; waits up to 10 s for it to come up, and says at once what the log
// says when it exits before.
std::unique_ptr<Client> connect_or_start(const std::filesystem::path& socket, const std::filesystem::path& daemon_exe,
                                         const std::filesystem::path& log, bool autostart,
                                         ProcessLauncher& launcher = system_launcher());

}  // namespace torchexam
