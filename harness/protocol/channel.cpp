#include "protocol/channel.hpp"

#include <boost/asio/buffer.hpp>

#include <span>

namespace torchexam::protocol {
namespace asio = boost::asio;
using boost::system::error_code;

template <class Stream>
Channel<Stream>::Channel(Stream stream, size_t max_body) : stream_(std::move(stream)), reader_(max_body) {}

template <class Stream>
void Channel<Stream>::start(ChannelHandlers handlers) {
  h_ = std::move(handlers);
  // Writes are tried at once and never block the thread: a full stream
  // means waiting until it is writable (flush()).
  error_code ec;
  stream_.non_blocking(true, ec);
  if (ec) return closed(ec);
  read();
}

template <class Stream>
void Channel<Stream>::read() {
  stream_.async_read_some(asio::buffer(buf_), [self = this->shared_from_this()](const error_code& ec, size_t n) {
    if (!self->open_) return;
    if (ec) return self->closed(ec);
    self->reader_.feed(std::string_view(self->buf_.data(), n));
    self->batching_ = true;
    while (self->open_) {
      auto next = self->reader_.next();
      if (!next) break;
      if (auto* frame = std::get_if<Frame>(&*next)) {
        if (self->h_.on_body) self->h_.on_body(std::move(frame->body));
      } else if (self->h_.on_framing_error) {
        self->h_.on_framing_error(std::get<FramingError>(*next).message);
      }
    }
    self->batching_ = false;
    self->flush();
    if (self->open_) self->read();
  });
}

template <class Stream>
void Channel<Stream>::send(std::string_view body) {
  if (!open_) return;
  out_.push_back(encode_frame(body));
  if (!batching_) flush();
}

template <class Stream>
void Channel<Stream>::flush() {
  while (open_ && !waiting_writable_ && !out_.empty()) {
    // One gather write for as many queued frames as Asio passes to the
    // kernel in one call (64).
    std::array<asio::const_buffer, 64> buffers;
    size_t count = 0;
    for (auto it = out_.begin(); it != out_.end() && count < buffers.size(); ++it, ++count)
      buffers[count] = asio::buffer(*it) + (count == 0 ? out_offset_ : 0);
    error_code ec;
    const size_t n = stream_.write_some(std::span(buffers.data(), count), ec);
    if (ec == asio::error::would_block || ec == asio::error::try_again) {
      waiting_writable_ = true;
      stream_.async_wait(Stream::wait_write, [self = this->shared_from_this()](const error_code& wait_ec) {
        self->waiting_writable_ = false;
        if (!self->open_) return;
        if (wait_ec) return self->closed(wait_ec);
        self->flush();
      });
      return;
    }
    if (ec) return closed(ec);
    consume(n);
  }
}

template <class Stream>
void Channel<Stream>::consume(size_t n) {
  while (n > 0 && !out_.empty()) {
    const size_t left = out_.front().size() - out_offset_;
    if (n < left) {
      out_offset_ += n;
      return;
    }
    n -= left;
    out_.pop_front();
    out_offset_ = 0;
  }
}

template <class Stream>
void Channel<Stream>::close() {
  closed(asio::error::operation_aborted);
}

template <class Stream>
void Channel<Stream>::closed(const error_code& why) {
  if (!open_) return;
  open_ = false;
  out_.clear();
  out_offset_ = 0;
  error_code ignored;
  // A socket is shut down as well as closed: a copy of its descriptor that
  // a child process inherited would otherwise keep the connection open.
  if constexpr (requires { stream_.shutdown(Stream::shutdown_both, ignored); })
    stream_.shutdown(Stream::shutdown_both, ignored);
  stream_.close(ignored);
  if (h_.on_close) h_.on_close(why);
}

template class Channel<asio::local::stream_protocol::socket>;
template class Channel<StdioStream>;

BlockingChannel::BlockingChannel(std::unique_ptr<asio::io_context> io, asio::local::stream_protocol::socket socket,
                                 std::string peer, size_t max_body)
    : io_(std::move(io)), peer_(std::move(peer)), channel_(std::make_shared<SocketChannel>(std::move(socket), max_body)) {
  channel_->start({[this](std::string body) { inbox_.emplace_back(std::move(body)); },
                   [this](const std::string& error) { inbox_.emplace_back(FramingError{error}); },
                   [this](const error_code& why) { closed_ = peer_ + " closed the connection (" + why.message() + ")"; }});
}

// The channel's handlers point here: it closes (running them for the last
// time) before this goes.
BlockingChannel::~BlockingChannel() { channel_->close(); }

std::optional<std::string> BlockingChannel::receive(std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    if (!inbox_.empty()) {
      auto item = std::move(inbox_.front());
      inbox_.pop_front();
      if (auto* error = std::get_if<FramingError>(&item))
        throw ChannelError(peer_ + " sent a malformed frame: " + error->message);
      return std::move(std::get<std::string>(item));
    }
    if (closed_) throw ChannelError(*closed_);
    if (io_->stopped()) io_->restart();
    if (std::chrono::steady_clock::now() < deadline)
      io_->run_one_until(deadline);
    else if (io_->poll() == 0)  // what the socket already holds, and no more
      return std::nullopt;
  }
}

void BlockingChannel::send(std::string_view body) {
  if (closed_) throw ChannelError(*closed_);
  channel_->send(body);
}

}  // namespace torchexam::protocol
