#include "lsp/run.hpp"

#include "client/backoff.hpp"
#include "client/client.hpp"
#include "client/workspace_config.hpp"
#include "lsp/lsp_types.hpp"
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
#include <deque>
#include <functional>
#include <optional>

namespace torchexam::lsp {
namespace asio = boost::asio;
using TlsChannel = protocol::Channel<protocol::TlsStream>;
using Clock = Backoff::Clock;

namespace {

// The language server's connection to the proctored server (run.hpp): one
// TLS channel at a time, logged in, pinged, made again after a loss.
// Requests reach it through the RpcPeer `daemon`, whose send() is send()
// here; it reopens and closes that peer as the connection comes and goes and
// tells the LspServer. Threads: the io_context's.
class ServerLink {
 public:
  ServerLink(asio::io_context& io, RemoteOptions o, RpcPeer& daemon, LspServer& server, Endpoint& editor)
      : io_(io),
        o_(std::move(o)),
        daemon_(daemon),
        server_(server),
        editor_(editor),
        where_(fmt::format("{}:{}", o_.host, o_.port)),
        retry_timer_(io),
        keepalive_timer_(io) {}

  // The first connection. Until its login is answered, what is sent waits.
  void start() {
    try {
      ctx_ = std::make_shared<asio::ssl::context>(protocol::make_client_context(o_.ca_file));
    } catch (const std::exception& e) {
      return end(e.what());
    }
    attempt();
  }

  void send(std::string body) {
    if (state_ == State::up || sending_login_) {
      if (channel_) channel_->send(body);
    } else if (state_ == State::connecting || state_ == State::logging_in) {
      waiting_.push_back(std::move(body));  // after the login
    }                                       // reconnecting, ended: the peer is closed and sends nothing
  }

 private:
  enum class State { connecting, logging_in, up, reconnecting, ended };

  void attempt() {
    state_ = first_ ? State::connecting : State::reconnecting;
    RemoteOptions a = o_;
    if (backoff_) a.timeout = backoff_->attempt_timeout(Clock::now(), o_.timeout);
    async_connect_tls_stream(io_, *ctx_, a,
                             [this, gen = generation_](std::optional<protocol::TlsStream> s, std::string error) {
                               if (gen != generation_ || state_ == State::ended) return;
                               if (!s) return failed(error);
                               connected(std::move(*s));
                             });
  }

  void connected(protocol::TlsStream stream) {
    channel_ = std::make_shared<TlsChannel>(std::move(stream));
    const uint64_t gen = ++generation_;
    state_ = State::logging_in;
    daemon_.reopen();
    channel_->start({[this, gen](std::string body) {
                       if (gen == generation_) daemon_.receive(body);
                     },
                     nullptr,
                     [this, gen](const boost::system::error_code& ec) {
                       if (gen != generation_) return;
                       lost(ec == asio::error::eof ? std::string("the server closed the connection") : ec.message());
                     }});
    // The login goes first; what waits follows it on the connection, and
    // the server answers in order.
    sending_login_ = true;
    request(daemon_, protocol::rpc::auth_login, protocol::LoginParams{o_.token},
            [this, gen](Typed<protocol::Identity> r) {
              if (gen != generation_) return;  // that connection is gone
              if (const auto* me = std::get_if<protocol::Identity>(&r)) return logged_in(*me);
              end(fmt::format("the server {} refused the login: {}", where_, std::get<protocol::RpcError>(r).what()));
            });
    sending_login_ = false;
  }

  void logged_in(const protocol::Identity& me) {
    state_ = State::up;
    backoff_.reset();
    for (auto& body : waiting_) channel_->send(body);
    waiting_.clear();
    // The server drops a connection with no request for its keep-alive
    // timeout; an editor may sit idle far longer.
    ping_every_ = std::chrono::milliseconds(0);
    if (me.keepalive_s && *me.keepalive_s > 0)
      ping_every_ = std::chrono::milliseconds(static_cast<int64_t>(*me.keepalive_s * 1000 / 3));
    ping_sent_.reset();
    if (ping_every_.count() > 0) ping();
    if (!first_) server_.reconnected(fmt::format("reconnected to the server {}", where_));
    first_ = false;
  }

  // The connection went away (`why`): while logging in, an attempt failed;
  // once up, reconnecting begins.
  void lost(const std::string& why) {
    if (state_ == State::logging_in) {
      drop_channel();
      waiting_.clear();
      if (!first_) daemon_.close(lost_message_);  // what waited for this login fails as during the rest of the loss
      return failed(why);
    }
    if (state_ != State::up) return;
    drop_channel();
    lost_at_ = Clock::now();
    said_at_ = *lost_at_;
    backoff_.emplace(*lost_at_, o_.reconnect_for);
    lost_message_ = fmt::format("lost the connection to the server {} ({}); reconnecting...", where_, why);
    state_ = State::reconnecting;
    server_.connection_lost(lost_message_);  // first: what fails below is taken for the loss
    daemon_.close(lost_message_);
    attempt();  // at once
  }

  // An attempt failed: try again after the back-off's pause, or give up.
  void failed(const std::string& error) {
    if (first_) return end(error);  // as at the start of every run: say why, do not retry
    const auto now = Clock::now();
    const auto pause = backoff_->after_failure(now);
    if (!pause)
      return end(fmt::format(
          "gave up reconnecting to the server {} after {} s ({}); nothing is lost on the server: restart the "
          "language server (or the editor) once it can be reached",
          where_, std::chrono::duration_cast<std::chrono::seconds>(o_.reconnect_for).count(), error));
    if (now - said_at_ >= std::chrono::seconds(30)) {
      said_at_ = now;
      editor_.notify(
          "window/logMessage",
          show_message(MessageType::info,
                       fmt::format("torchexam: still reconnecting to {} ({} s so far): {}", where_,
                                   std::chrono::duration_cast<std::chrono::seconds>(now - *lost_at_).count(), error)));
    }
    state_ = State::reconnecting;
    retry_timer_.expires_after(*pause);
    retry_timer_.async_wait([this, gen = generation_](const boost::system::error_code& ec) {
      if (!ec && gen == generation_ && state_ == State::reconnecting) attempt();
    });
  }

  // For good: a refused login, the window passed, or the first connection failed.
  void end(const std::string& why) {
    drop_channel();
    state_ = State::ended;
    retry_timer_.cancel();
    waiting_.clear();
    server_.daemon_unavailable(why);  // first: the requests failed below are not told again
    daemon_.close(why);
  }

  // Handlers of the channel dropped here do nothing from now on.
  void drop_channel() {
    ++generation_;
    keepalive_timer_.cancel();
    if (channel_) channel_->close();
    channel_.reset();
  }

  // $/ping every ping_every_; a ping unanswered for three periods (at
  // least 10 s) counts as a lost connection, as the CLI's client has it.
  void ping() {
    keepalive_timer_.expires_after(ping_every_);
    keepalive_timer_.async_wait([this, gen = generation_](const boost::system::error_code& ec) {
      if (ec || gen != generation_ || state_ != State::up) return;
      const auto now = Clock::now();
      if (ping_sent_ && now - *ping_sent_ > std::max<Clock::duration>(3 * ping_every_, std::chrono::seconds(10)))
        return lost("the server stopped answering keep-alive pings");
      if (!ping_sent_) ping_sent_ = now;
      request(daemon_, protocol::rpc::ping, protocol::Empty{}, [this, gen](Typed<protocol::Empty>) {
        if (gen == generation_) ping_sent_.reset();  // any answer: the server is there
      });
      ping();
    });
  }

  asio::io_context& io_;
  RemoteOptions o_;
  RpcPeer& daemon_;
  LspServer& server_;
  Endpoint& editor_;
  std::string where_;                        // HOST:PORT
  std::shared_ptr<asio::ssl::context> ctx_;  // outlives every channel
  std::shared_ptr<TlsChannel> channel_;
  State state_ = State::connecting;
  bool first_ = true;        // never logged in yet
  uint64_t generation_ = 0;  // bumped when a channel is made or dropped
  bool sending_login_ = false;
  std::deque<std::string> waiting_;  // sent before the login was answered
  std::optional<Backoff> backoff_;
  std::optional<Clock::time_point> lost_at_;
  std::string lost_message_;
  Clock::time_point said_at_;  // the last "still reconnecting"
  asio::steady_timer retry_timer_, keepalive_timer_;
  std::chrono::milliseconds ping_every_{0};
  std::optional<Clock::time_point> ping_sent_;  // the oldest unanswered ping
};

}  // namespace

int run(const RunOptions& o) {
  std::signal(SIGPIPE, SIG_IGN);
  asio::io_context io;
  auto editor_channel = std::make_shared<protocol::StdioChannel>(
      protocol::StdioStream{asio::posix::stream_descriptor(io, ::dup(STDIN_FILENO)),
                            asio::posix::stream_descriptor(io, ::dup(STDOUT_FILENO))});
  // The daemon over its Unix socket, or the proctored server over TLS.
  std::shared_ptr<protocol::SocketChannel> daemon_channel;
  std::unique_ptr<ServerLink> link;

  int exit_code = 1;
  protocol::Binder editor_methods, daemon_notes;
  RpcPeer editor([editor_channel](std::string body) { editor_channel->send(body); }, editor_methods, true);
  RpcPeer daemon(
      [&](std::string body) {
        if (daemon_channel) daemon_channel->send(body);
        if (link) link->send(std::move(body));
      },
      daemon_notes, false);
  LspServer server(editor, daemon, o.version, [&](int code) {
    exit_code = code;
    io.stop();
  });
  auto use_server = [&](const RemoteOptions& remote, const std::filesystem::path& workspace) {
    server.set_remote(workspace);
    link = std::make_unique<ServerLink>(io, remote, daemon, server, editor);
    link->start();
  };
  auto use_daemon = [&] {
    try {
      daemon_channel = std::make_shared<protocol::SocketChannel>(
          connect_or_start(io, o.socket, o.daemon_exe, o.daemon_log, true));  // starts it when nobody listens
    } catch (const std::exception& e) {
      server.daemon_unavailable(e.what());
      return daemon.close(e.what());
    }
    daemon_channel->start({[&](std::string body) { daemon.receive(body); }, nullptr,
                           [&](const boost::system::error_code&) {
                             server.daemon_unavailable(
                                 "lost the connection to torchexamd; restart the language server once it runs again");
                             daemon.close("torchexamd closed the connection");
                           }});
  };
  if (o.remote) {
    use_server(*o.remote, o.remote_workspace);
  } else {
    // The editor's root folder decides: a joined workspace's server, or the daemon.
    server.on_initialize([&](const InitializeParams& p) {
      if (link || daemon_channel || daemon.closed()) return;  // decided already
      std::optional<WorkspaceConfig> joined;
      RemoteOptions remote;
      std::string problem;
      try {
        if (p.root) joined = find_workspace_config(*p.root);
        if (joined) {
          problem = remote_options(joined->server, joined->ca_file.string(), joined->token_file.string(), remote);
          if (!problem.empty())
            problem +=
                fmt::format(" (from {}, written by torchexam join)", workspace_config_file(joined->root).string());
        }
      } catch (const std::exception& e) {
        problem = e.what();
      }
      if (!problem.empty()) {
        if (joined) server.set_remote(joined->root);
        server.daemon_unavailable(problem);
        return daemon.close(problem);
      }
      if (!joined) return use_daemon();
      remote.reconnect_for = o.reconnect_for;
      use_server(remote, joined->root);
    });
  }
  server.bind_editor(editor_methods);
  server.bind_daemon(daemon_notes);

  editor_channel->start({[&](std::string body) { editor.receive(body); },
                         [&](const std::string& error) { editor.malformed(error); },
                         [&](const boost::system::error_code&) { io.stop(); }});  // the editor went away
  if (io.stopped()) io.restart();
  io.run();
  return exit_code;
}

}  // namespace torchexam::lsp
