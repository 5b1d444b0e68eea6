#include "client/client.hpp"

#include "protocol/server_messages.hpp"

#include <signal.h>

#include <cerrno>
#include <fstream>
#include <iterator>
#include <thread>
#include <utility>

namespace torchexam {
namespace asio = boost::asio;
namespace json = boost::json;
using local = asio::local::stream_protocol;

namespace {

local::socket connect_socket(asio::io_context& io, const std::filesystem::path& socket) {
  local::socket s(io);
  boost::system::error_code ec;
  s.connect(local::endpoint(socket.string()), ec);
  if (ec) throw ConnectError("cannot connect to torchexamd at " + socket.string() + ": " + ec.message());
  return s;
}

}  // namespace

Client::Client(std::unique_ptr<asio::io_context> io, local::socket socket) : io_(std::move(io)) {
  attach(std::move(socket));
}

Client::Client(std::unique_ptr<asio::io_context> io, protocol::TlsStream stream, std::shared_ptr<void> keep)
    : io_(std::move(io)), keep_(std::move(keep)) {
  attach(std::move(stream));
}

template <class Stream>
void Client::attach(Stream stream) {
  auto channel = std::make_shared<protocol::Channel<Stream>>(std::move(stream));
  channel->start({[this](std::string body) { receive(body); },
                  [this](const std::string& error) { bad_frame_ = "torchexamd sent a malformed frame: " + error; },
                  [this](const boost::system::error_code& why) {
                    closed_ = "torchexamd closed the connection (" + why.message() + ")";
                  }});
  send_ = [c = channel.get()](std::string_view body) { c->send(body); };
  close_ = [c = channel.get()] { c->close(); };
  channel_ = std::move(channel);
}

// The channel's handlers point here: it closes (running them a last time)
// first. Over TLS the close sends a close_notify; the io_context runs a
// moment longer so that it goes out, and the server's answers it.
Client::~Client() {
  close_();
  if (keep_) {
    if (io_->stopped()) io_->restart();
    io_->run_for(std::chrono::milliseconds(500));
  }
}

void Client::send(std::string_view body) {
  last_sent_ = std::chrono::steady_clock::now();
  send_(body);
}

void Client::keepalive(std::chrono::milliseconds every) { keepalive_ = every; }

std::chrono::steady_clock::time_point Client::keep_alive() {
  using namespace std::chrono;
  if (keepalive_.count() <= 0 || closed_) return steady_clock::time_point::max();
  const auto now = steady_clock::now();
  const auto dead_after = std::max<milliseconds>(3 * keepalive_, seconds(10));
  if (ping_) {
    if (now < ping_->second + dead_after) return ping_->second + dead_after;
    close_();
    closed_ = "the server did not answer a keep-alive ping within " +
              std::to_string(duration_cast<seconds>(dead_after).count()) + " s";
    return steady_clock::time_point::max();
  }
  if (now < last_sent_ + keepalive_) return last_sent_ + keepalive_;
  ping_.emplace(next_id_++, now);
  send(protocol::make_request(ping_->first, protocol::method::ping, json::object()));
  return now + dead_after;
}

std::unique_ptr<Client> Client::connect(const std::filesystem::path& socket) {
  auto io = std::make_unique<asio::io_context>();
  local::socket s = connect_socket(*io, socket);
  return std::make_unique<Client>(std::move(io), std::move(s));
}

void Client::receive(const std::string& body) {
  auto parsed = protocol::parse_message(body);
  if (auto* failure = std::get_if<protocol::ParseFailure>(&parsed)) {
    if (awaited_ != 0 && failure->id == awaited_) answer_ = protocol::RpcError(failure->code, failure->message);
    return;
  }
  auto& m = std::get<protocol::Message>(parsed);
  if (ping_ && m.kind == protocol::Message::Kind::response && m.id == ping_->first) ping_.reset();
  if (m.kind == protocol::Message::Kind::notification) notes_.push_back({m.method, std::move(m.params)});
  if (m.kind != protocol::Message::Kind::response || awaited_ == 0 || m.id != awaited_) return;
  if (m.error) answer_ = protocol::RpcError(m.error->first, m.error->second);
  else answer_ = std::move(m.result);
}

bool Client::wait(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (bad_frame_) throw std::runtime_error(*std::exchange(bad_frame_, std::nullopt));
    if (done()) return true;
    const auto wake = keep_alive();
    if (closed_) throw ConnectionLost(*closed_);
    if (io_->stopped()) io_->restart();
    if (std::chrono::steady_clock::now() < deadline) io_->run_one_until(std::min(deadline, wake));
    else if (io_->poll() == 0) return false;
  }
}

json::value Client::call(std::string_view method, json::value params) {
  awaited_ = next_id_++;
  answer_.reset();
  send(protocol::make_request(awaited_, method, std::move(params)));
  wait([this] { return answer_.has_value(); }, std::chrono::steady_clock::time_point::max());
  awaited_ = 0;
  if (auto* error = std::get_if<protocol::RpcError>(&*answer_)) throw *error;
  return std::move(std::get<json::value>(*answer_));
}

std::optional<Notification> Client::next_notification(std::chrono::milliseconds timeout) {
  if (!wait([this] { return !notes_.empty(); }, std::chrono::steady_clock::now() + timeout)) return std::nullopt;
  Notification n = std::move(notes_.front());
  notes_.pop_front();
  return n;
}

namespace {

// What `log` gained from `offset` on, its last few lines.
std::string log_since(const std::filesystem::path& log, std::uintmax_t offset) {
  std::ifstream in(log, std::ios::binary);
  in.seekg(static_cast<std::streamoff>(offset));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  while (!text.empty() && text.back() == '\n') text.pop_back();
  size_t start = text.size();  // where the lines kept begin
  for (int lines = 0; lines < 5 && start > 0; ++lines) {
    const size_t nl = text.rfind('\n', start - 1);
    if (nl == std::string::npos) return text;  // fewer lines than that
    start = nl;                                 // the next search starts before this newline
  }
  return start < text.size() && text[start] == '\n' ? text.substr(start + 1) : text.substr(start);
}

}  // namespace

local::socket connect_or_start(asio::io_context& io, const std::filesystem::path& socket,
                               const std::filesystem::path& daemon_exe, const std::filesystem::path& log,
                               bool autostart, ProcessLauncher& launcher) {
  try {
    return connect_socket(io, socket);
  } catch (const ConnectError&) {
    if (!autostart) throw;
  }
  std::error_code size_ec;
  const std::uintmax_t log_offset = std::filesystem::exists(log) ? std::filesystem::file_size(log, size_ec) : 0;
  const pid_t daemon = launcher.start_detached({daemon_exe, {"--socket", socket.string()}, log});
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (auto wait = std::chrono::milliseconds(10);; wait = std::min(wait * 2, std::chrono::milliseconds(200))) {
    try {
      return connect_socket(io, socket);
    } catch (const ConnectError& e) {
      // A daemon that refused to start (its socket folder is not private,
      // another one holds the state folder, ...) has said why in its log:
      // say it now rather than after the 10 s.
      if (daemon > 0 && ::kill(daemon, 0) != 0 && errno == ESRCH) {
        try {
          return connect_socket(io, socket);  // it handed over to one that was starting beside it
        } catch (const ConnectError&) {
        }
        const std::string said = log_since(log, size_ec ? 0 : log_offset);
        throw ConnectError("torchexamd exited before it listened on " + socket.string() +
                           (said.empty() ? std::string() : ":\n" + said) + "\n(its log: " + log.string() + ")");
      }
      if (std::chrono::steady_clock::now() > until)
        throw ConnectError(std::string(e.what()) + "; torchexamd did not come up within 10 s (see " + log.string() + ")");
    }
    std::this_thread::sleep_for(wait);
  }
}

std::unique_ptr<Client> connect_or_start(const std::filesystem::path& socket, const std::filesystem::path& daemon_exe,
                                         const std::filesystem::path& log, bool autostart,
                                         ProcessLauncher& launcher) {
  auto io = std::make_unique<asio::io_context>();
  local::socket s = connect_or_start(*io, socket, daemon_exe, log, autostart, launcher);
  return std::make_unique<Client>(std::move(io), std::move(s));
}

}  // namespace torchexam
