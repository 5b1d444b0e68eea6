#include "lsp/run.hpp"

#include "client/client.hpp"
#include "lsp/framed_channel.hpp"
#include "lsp/rpc_peer.hpp"
#include "lsp/server.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <unistd.h>
#include <csignal>
#include <optional>

namespace torchexam::lsp {
namespace asio = boost::asio;
using local = asio::local::stream_protocol;

namespace {

// Connects `socket`, starting the daemon first when nobody listens.
std::optional<std::string> connect_daemon(local::socket& s, const RunOptions& o) {
  boost::system::error_code ec;
  s.connect(local::endpoint(o.socket.string()), ec);
  if (!ec) return std::nullopt;
  try {
    connect_or_start(o.socket, o.daemon_exe, o.daemon_log, true);  // waits until it listens
  } catch (const std::exception& e) {
    return std::string(e.what());
  }
  s = local::socket(s.get_executor());
  s.connect(local::endpoint(o.socket.string()), ec);
  if (ec) return "cannot connect to torchexamd at " + o.socket.string() + ": " + ec.message();
  return std::nullopt;
}

}  // namespace

int run(const RunOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  asio::posix::stream_descriptor in(io, ::dup(STDIN_FILENO)), out(io, ::dup(STDOUT_FILENO));
  local::socket daemon_socket(io);
  const auto daemon_error = connect_daemon(daemon_socket, o);

  int exit_code = 1;
  protocol::Binder editor_methods, daemon_notes;
  auto editor_channel =
      std::make_shared<FramedChannel<asio::posix::stream_descriptor, asio::posix::stream_descriptor>>(in, out);
  auto daemon_channel = std::make_shared<FramedChannel<local::socket, local::socket>>(daemon_socket, daemon_socket);
  RpcPeer editor([editor_channel](std::string body) { editor_channel->send(std::move(body)); }, editor_methods, true);
  RpcPeer daemon([daemon_channel](std::string body) { daemon_channel->send(std::move(body)); }, daemon_notes, false);
  LspServer server(editor, daemon, o.version, [&](int code) {
    exit_code = code;
    io.stop();
  });
  server.bind_editor(editor_methods);
  server.bind_daemon(daemon_notes);

  editor_channel->start({[&](std::string body) { editor.receive(body); },
                         [&](const std::string& error) { editor.malformed(error); },
                         [&] { io.stop(); }});  // the editor went away
  if (daemon_error) {
    daemon.close(*daemon_error);
    server.daemon_unavailable(*daemon_error);
  } else {
    daemon_channel->start({[&](std::string body) { daemon.receive(body); }, nullptr,
                           [&] {
                             daemon.close("torchexamd closed the connection");
                             server.daemon_unavailable(
                                 "lost the connection to torchexamd; restart the language server once it runs again");
                           }});
  }
  io.run();
  return exit_code;
}

}  // namespace torchexam::lsp
