#include "lsp/run.hpp"

#include "client/client.hpp"
#include "lsp/rpc_peer.hpp"
#include "lsp/server.hpp"
#include "protocol/channel.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <unistd.h>
#include <csignal>
#include <optional>

namespace torchexam::lsp {
namespace asio = boost::asio;

int run(const RunOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  auto editor_channel = std::make_shared<protocol::StdioChannel>(protocol::StdioStream{
      asio::posix::stream_descriptor(io, ::dup(STDIN_FILENO)), asio::posix::stream_descriptor(io, ::dup(STDOUT_FILENO))});
  std::shared_ptr<protocol::SocketChannel> daemon_channel;
  std::optional<std::string> daemon_error;
  try {
    daemon_channel = std::make_shared<protocol::SocketChannel>(
        connect_or_start(io, o.socket, o.daemon_exe, o.daemon_log, true));  // starts it when nobody listens
  } catch (const std::exception& e) {
    daemon_error = e.what();
  }

  int exit_code = 1;
  protocol::Binder editor_methods, daemon_notes;
  RpcPeer editor([editor_channel](std::string body) { editor_channel->send(body); }, editor_methods, true);
  RpcPeer daemon(
      [daemon_channel](std::string body) {
        if (daemon_channel) daemon_channel->send(body);
      },
      daemon_notes, false);
  LspServer server(editor, daemon, o.version, [&](int code) {
    exit_code = code;
    io.stop();
  });
  server.bind_editor(editor_methods);
  server.bind_daemon(daemon_notes);

  editor_channel->start({[&](std::string body) { editor.receive(body); },
                         [&](const std::string& error) { editor.malformed(error); },
                         [&](const boost::system::error_code&) { io.stop(); }});  // the editor went away
  if (daemon_error) {
    daemon.close(*daemon_error);
    server.daemon_unavailable(*daemon_error);
  } else {
    daemon_channel->start({[&](std::string body) { daemon.receive(body); }, nullptr,
                           [&](const boost::system::error_code&) {
                             daemon.close("torchexamd closed the connection");
                             server.daemon_unavailable(
                                 "lost the connection to torchexamd; restart the language server once it runs again");
                           }});
  }
  io.run();
  return exit_code;
}

}  // namespace torchexam::lsp
