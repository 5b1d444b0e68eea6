// remote.cpp — the client's side of the proctored server (client.hpp):
// the address, the token file, and connecting over TLS (blocking for the
// CLI, asynchronous for the language server).
#include "client/client.hpp"

#include "client/backoff.hpp"
#include "protocol/server_messages.hpp"

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include <sys/stat.h>

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

std::string remote_options(const std::string& server, const std::string& ca_file, const std::string& token_file,
                           RemoteOptions& o) {
  std::string problem = parse_server_address(server, o);
  if (!problem.empty()) return problem;
  if (token_file.empty()) return "--server needs --token-file FILE (the token the examiner gave you)";
  if (ca_file.empty()) return "--server needs --ca-file FILE (the CA certificate the examiner gave you)";
  try {
    o.token = read_token_file(token_file);
  } catch (const std::exception& e) {
    return e.what();
  }
  o.ca_file = ca_file;
  return "";
}

void async_connect_tls_stream(asio::io_context& io, ssl::context& ctx, const RemoteOptions& o,
                              std::function<void(std::optional<protocol::TlsStream>, std::string)> done) {
  // One attempt's state, kept alive by its pending operations; the timer
  // ends whichever step is still running at o.timeout.
  struct Attempt {
    Attempt(asio::io_context& io, ssl::context& ctx) : resolver(io), socket(io, ctx), timer(io) {}
    tcp::resolver resolver;
    protocol::TlsSocket socket;
    asio::steady_timer timer;
    std::string where, host;
    enum class Step { resolve, connect, handshake } step = Step::resolve;
    bool finished = false;
    std::function<void(std::optional<protocol::TlsStream>, std::string)> done;
    void fail(const std::string& error) {
      if (finished) return;
      finished = true;
      timer.cancel();
      boost::system::error_code ignored;
      resolver.cancel();
      socket.lowest_layer().close(ignored);
      auto d = std::move(done);
      d(std::nullopt, error);
    }
  };
  auto a = std::make_shared<Attempt>(io, ctx);
  a->where = o.host + ":" + std::to_string(o.port);
  a->host = o.host;
  a->done = std::move(done);
  a->timer.expires_after(o.timeout);
  a->timer.async_wait([a](const boost::system::error_code& ec) {
    if (ec || a->finished) return;
    switch (a->step) {
      case Attempt::Step::resolve:
        return a->fail("cannot find the server " + a->where + ": no answer within the timeout");
      case Attempt::Step::connect:
        return a->fail("cannot connect to the server " + a->where + ": no answer within the timeout");
      case Attempt::Step::handshake:
        return a->fail("the TLS handshake with " + a->where +
                       " did not finish within the timeout (is it a TorchExam server's TLS port?)");
    }
  });
  a->resolver.async_resolve(
      o.host, std::to_string(o.port),
      [a](const boost::system::error_code& resolved, tcp::resolver::results_type endpoints) {
        if (a->finished) return;
        if (resolved) return a->fail("cannot find the server " + a->where + ": " + resolved.message());
        a->step = Attempt::Step::connect;
        asio::async_connect(
            a->socket.lowest_layer(), endpoints, [a](const boost::system::error_code& reached, const tcp::endpoint&) {
              if (a->finished) return;
              if (reached) return a->fail("cannot connect to the server " + a->where + ": " + reached.message());
              a->step = Attempt::Step::handshake;
              protocol::tls_verify_host(a->socket, a->host);
              a->socket.async_handshake(ssl::stream_base::client, [a](const boost::system::error_code& ec) {
                if (a->finished) return;
                if (ec)
                  return a->fail("the TLS handshake with " + a->where +
                                 " failed: " + protocol::tls_error_text(ec, a->socket) +
                                 "; check that --ca-file is the CA that signed the server's certificate and that "
                                 "the certificate names " +
                                 a->host);
                a->finished = true;
                a->timer.cancel();
                auto d = std::move(a->done);
                d(protocol::TlsStream(std::move(a->socket)), "");
              });
            });
      });
}

protocol::TlsStream connect_tls_stream(asio::io_context& io, ssl::context& ctx, const RemoteOptions& o) {
  std::optional<protocol::TlsStream> stream;
  std::string error;
  bool done = false;
  async_connect_tls_stream(io, ctx, o, [&](std::optional<protocol::TlsStream> s, std::string e) {
    stream = std::move(s);
    error = std::move(e);
    done = true;
  });
  while (!done) {  // the attempt's timer ends it
    if (io.stopped()) io.restart();
    io.run_one();
  }
  if (io.stopped()) io.restart();
  if (!stream) throw ConnectError(error);
  return std::move(*stream);
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
  Backoff backoff(Backoff::Clock::now(), o.reconnect_for);
  for (;;) {
    RemoteOptions attempt = o;
    attempt.timeout = backoff.attempt_timeout(Backoff::Clock::now(), o.timeout);
    std::string error;
    try {
      return Client::connect_tls(attempt);
    } catch (const protocol::RpcError&) {
      throw;                             // the server is there and refuses this token: trying again changes nothing
    } catch (const std::exception& e) {  // not up yet, reset, a handshake cut short
      error = e.what();
    }
    if (failed) failed(error);
    const auto pause = backoff.after_failure(Backoff::Clock::now());
    if (!pause) throw ConnectError(error);
    std::this_thread::sleep_for(*pause);
  }
}

}  // namespace torchexam
