// remote.cpp — the client's side of the proctored server (client.hpp):
// the address, the token file, and connect_tls.
#include "client/client.hpp"

#include "protocol/server_messages.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <thread>

namespace torchexam {
namespace asio = boost::asio;
namespace ssl = asio::ssl;
using tcp = asio::ip::tcp;

std::string parse_server_address(const std::string& text, RemoteOptions& o) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == text.size())
    return "--server takes HOST:PORT (e.g. exam.example.org:7443), got '" + text + "'";
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  const std::string port = text.substr(colon + 1);
  if (port.find_first_not_of("0123456789") != std::string::npos || port.size() > 5 || std::stoi(port) == 0 ||
      std::stoi(port) > 65535)
    return "--server: the port must be a number from 1 to 65535, got '" + port + "'";
  o.host = host;
  o.port = static_cast<uint16_t>(std::stoi(port));
  return "";
}

std::string read_token_file(const std::filesystem::path& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0)
    throw std::runtime_error("cannot read the token file " + path.string() + " (--token-file): no such file");
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    throw std::runtime_error("the token file " + path.string() +
                             " may be read by others than you; make it yours alone: chmod 600 " + path.string());
  std::ifstream in(path);
  std::string token;
  if (!in || !std::getline(in, token))
    throw std::runtime_error("cannot read the token file " + path.string() + " (--token-file), or it is empty");
  const auto first = token.find_first_not_of(" \t\r");
  const auto last = token.find_last_not_of(" \t\r");
  if (first == std::string::npos)
    throw std::runtime_error("the token file " + path.string() +
                             " is empty; put the token the examiner gave you "
                             "on its first line");
  return token.substr(first, last - first + 1);
}

protocol::TlsStream connect_tls_stream(asio::io_context& io, ssl::context& ctx, const RemoteOptions& o) {
  const std::string where = o.host + ":" + std::to_string(o.port);
  const auto deadline = std::chrono::steady_clock::now() + o.timeout;
  // Runs `io` until `done` or the deadline; false at the deadline.
  auto run_until = [&](const bool& done) {
    while (!done && std::chrono::steady_clock::now() < deadline) {
      if (io.stopped()) io.restart();
      io.run_one_until(deadline);
    }
    return done;
  };

  tcp::resolver resolver(io);
  boost::system::error_code ec;
  const auto endpoints = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec) throw ConnectError("cannot find the server " + where + ": " + ec.message());
  protocol::TlsSocket socket(io, ctx);
  bool connected = false;
  asio::async_connect(socket.lowest_layer(), endpoints, [&](const boost::system::error_code& e, const tcp::endpoint&) {
    ec = e;
    connected = true;
  });
  if (!run_until(connected))
    throw ConnectError("cannot connect to the server " + where + ": no answer within the timeout");
  if (ec) throw ConnectError("cannot connect to the server " + where + ": " + ec.message());

  protocol::tls_verify_host(socket, o.host);
  bool shaken = false;
  socket.async_handshake(ssl::stream_base::client, [&](const boost::system::error_code& e) {
    ec = e;
    shaken = true;
  });
  if (!run_until(shaken))
    throw ConnectError("the TLS handshake with " + where +
                       " did not finish within the timeout (is it a TorchExam "
                       "server's TLS port?)");
  if (ec)
    throw ConnectError("the TLS handshake with " + where + " failed: " + protocol::tls_error_text(ec, socket) +
                       "; check that --ca-file is the CA that signed the server's certificate and that the "
                       "certificate names " +
                       o.host);
  if (io.stopped()) io.restart();
  return protocol::TlsStream(std::move(socket));
}

std::unique_ptr<Client> Client::connect_tls(const RemoteOptions& o) {
  auto ctx = std::make_shared<ssl::context>(protocol::make_client_context(o.ca_file));
  auto io = std::make_unique<asio::io_context>();
  protocol::TlsStream stream = connect_tls_stream(*io, *ctx, o);
  auto client = std::make_unique<Client>(std::move(io), std::move(stream), ctx);
  const auto me = client->call(protocol::rpc::auth_login, protocol::LoginParams{o.token});
  if (me.keepalive_s && *me.keepalive_s > 0)
    client->keepalive(std::chrono::milliseconds(static_cast<int64_t>(*me.keepalive_s * 1000 / 3)));
  return client;
}

std::unique_ptr<Client> reconnect_tls(const RemoteOptions& o, const std::function<void(const std::string&)>& failed) {
  const auto give_up = std::chrono::steady_clock::now() + o.reconnect_for;
  auto pause = std::chrono::milliseconds(250);
  for (;;) {
    RemoteOptions attempt = o;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(give_up - std::chrono::steady_clock::now());
    attempt.timeout = std::clamp(left, std::chrono::milliseconds(100), o.timeout);
    std::string error;
    try {
      return Client::connect_tls(attempt);
    } catch (const protocol::RpcError&) {
      throw;                             // the server is there and refuses this token: trying again changes nothing
    } catch (const std::exception& e) {  // not up yet, reset, a handshake cut short
      error = e.what();
    }
    if (failed) failed(error);
    if (std::chrono::steady_clock::now() + pause >= give_up) throw ConnectError(error);
    std::this_thread::sleep_for(pause);
    pause = std::min(pause * 2, std::chrono::milliseconds(5000));
  }
}

}  // namespace torchexam
