#include "lsp/run.hpp"

#include "client/client.hpp"
#include "lsp/rpc_peer.hpp"
#include "lsp/server.hpp"
#include "protocol/channel.hpp"
#include "protocol/server_messages.hpp"
#include "protocol/tls_stream.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fmt/format.h>

#include <unistd.h>
#include <chrono>
#include <csignal>
#include <functional>
#include <optional>

namespace torchexam::lsp {
namespace asio = boost::asio;
using TlsChannel = protocol::Channel<protocol::TlsStream>;

int run(const RunOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  auto editor_channel = std::make_shared<protocol::StdioChannel>(protocol::StdioStream{
      asio::posix::stream_descriptor(io, ::dup(STDIN_FILENO)), asio::posix::stream_descriptor(io, ::dup(STDOUT_FILENO))});
  // The daemon over its Unix socket, or the proctored server over TLS.
  std::shared_ptr<protocol::SocketChannel> daemon_channel;
  std::shared_ptr<asio::ssl::context> tls_context;  // outlives the TLS channel
  std::shared_ptr<TlsChannel> server_channel;
  std::optional<std::string> daemon_error;
  const std::string peer_name =
      o.remote ? fmt::format("the server {}:{}", o.remote->host, o.remote->port) : std::string("torchexamd");
  try {
    if (o.remote) {
      tls_context = std::make_shared<asio::ssl::context>(protocol::make_client_context(o.remote->ca_file));
      server_channel = std::make_shared<TlsChannel>(connect_tls_stream(io, *tls_context, *o.remote));
    } else {
      daemon_channel = std::make_shared<protocol::SocketChannel>(
          connect_or_start(io, o.socket, o.daemon_exe, o.daemon_log, true));  // starts it when nobody listens
    }
  } catch (const std::exception& e) {
    daemon_error = e.what();
  }

  int exit_code = 1;
  protocol::Binder editor_methods, daemon_notes;
  RpcPeer editor([editor_channel](std::string body) { editor_channel->send(body); }, editor_methods, true);
  RpcPeer daemon(
      [daemon_channel, server_channel](std::string body) {
        if (daemon_channel) daemon_channel->send(body);
        if (server_channel) server_channel->send(body);
      },
      daemon_notes, false);
  LspServer server(editor, daemon, o.version, [&](int code) {
    exit_code = code;
    io.stop();
  });
  if (o.remote) server.set_remote(o.remote_workspace);
  server.bind_editor(editor_methods);
  server.bind_daemon(daemon_notes);

  editor_channel->start({[&](std::string body) { editor.receive(body); },
                         [&](const std::string& error) { editor.malformed(error); },
                         [&](const boost::system::error_code&) { io.stop(); }});  // the editor went away
  asio::steady_timer keepalive_timer(io);  // $/ping to the server, every keepalive_s / 3
  std::chrono::milliseconds ping_every{0};
  std::function<void()> ping;
  const protocol::ChannelHandlers to_daemon{
      [&](std::string body) { daemon.receive(body); }, nullptr, [&](const boost::system::error_code&) {
        keepalive_timer.cancel();
        daemon.close(peer_name + " closed the connection");
        server.daemon_unavailable(fmt::format("lost the connection to {}; restart the language server once it runs again",
                                              peer_name));
      }};
  if (daemon_error) {
    daemon.close(*daemon_error);
    server.daemon_unavailable(*daemon_error);
  } else if (server_channel) {
    server_channel->start(to_daemon);
    ping = [&] {
      keepalive_timer.expires_after(ping_every);
      keepalive_timer.async_wait([&](const boost::system::error_code& ec) {
        if (ec) return;
        request(daemon, protocol::rpc::ping, protocol::Empty{}, [](Typed<protocol::Empty>) {});
        ping();
      });
    };
    // The login goes first; what the editor asks meanwhile follows it on
    // the connection, and the server answers in order.
    request(daemon, protocol::rpc::auth_login, protocol::LoginParams{o.remote->token},
            [&, peer_name](Typed<protocol::Identity> r) {
              if (const auto* me = std::get_if<protocol::Identity>(&r)) {
                // The server drops a connection with no request for its
                // keep-alive timeout; an editor may sit idle far longer.
                if (me->keepalive_s && *me->keepalive_s > 0)
                  ping_every = std::chrono::milliseconds(static_cast<int64_t>(*me->keepalive_s * 1000 / 3));
                if (ping_every.count() > 0) ping();
                return;
              }
              const auto& e = std::get<protocol::RpcError>(r);
              const std::string why = fmt::format("{} refused the login: {}", peer_name, e.what());
              daemon.close(why);
              server.daemon_unavailable(why);
            });
  } else {
    daemon_channel->start(to_daemon);
  }
  if (io.stopped()) io.restart();
  io.run();
  return exit_code;
}

}  // namespace torchexam::lsp
