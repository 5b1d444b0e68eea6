// channel.hpp — the protocol's one framed transport: LSP base framing
// (framing.hpp) over a byte stream. The daemon serves each client through a
// Channel, the language server talks to the editor (stdin/stdout) and to the
// daemon through one each, and the CLI's client (client/client.hpp) through
// one. As clangd's Transport, a channel only moves message bodies; what a
// body means (JSON-RPC, the binder, the LSP) is decided above it.
//
// Shape: one asynchronous reader/writer, no synchronous face. A blocking
// user runs the channel on an io_context of its own until what it waits for
// has arrived or its deadline passes (io_context::run_one_until, Asio's own
// timed wait): the client does that in a few lines, where a synchronous
// reader and writer beside this one would repeat the read loop, the
// resynchronisation and the write queue.
//
// Stream: an Asio stream with async_read_some, write_some of a buffer
// sequence (non-blocking once non_blocking(true) is set), async_wait(
// Stream::wait_write), non_blocking() and close(); shutdown() is used when it
// has one. A Unix socket is one; SplitStream below makes one of a pair of
// descriptors (stdin, stdout). Another transport is another Stream.
//
// Contract:
//  - Threads: every call and every handler runs on the stream's executor, on
//    the one thread that runs its io_context. Not thread-safe.
//  - Ownership: the channel owns its stream and is held by shared_ptr (make
//    it with std::make_shared); its pending reads and waits keep it alive
//    until it closes. Handlers must not hold it by shared_ptr (a cycle):
//    capture a weak_ptr, or a raw pointer used only inside a handler.
//  - Reading: on_body gets each body, in order. The bodies of one read are
//    all handled before anything is written: what the handlers send
//    meanwhile goes out together after the last of them.
//  - A malformed frame (a bad header block; a body over max_body, which is
//    skipped unread) goes to on_framing_error with the reader's message
//    (docs/protocol.md §1 lists them); the reader resynchronises and the
//    channel stays open.
//  - End of input (in the middle of a frame too: the partial frame is
//    dropped), a read or write error, or close(): on_close runs once, with
//    the error (asio::error::eof at end of input, operation_aborted after
//    close()). After that no handler runs, send() drops what it is given,
//    and what was queued is dropped.
//  - Writing: send() frames the body and writes at once, as much as the
//    stream takes, in one gather write of up to 64 frames; it never blocks.
//    The rest waits until the stream is writable. Frames go out in the
//    order they were sent; none is dropped while the channel is open. The
//    queue has no cap unless set_max_queued() gives one: a send() that takes
//    the bytes queued beyond it closes the channel (on_close gets
//    asio::error::no_buffer_space), for a peer that does not read.
//  - Timeouts: none. A channel waits for its peer for ever; deadlines are
//    the blocking user's.
#pragma once

#include "protocol/framing.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>

namespace torchexam::protocol {

struct ChannelHandlers {
  std::function<void(std::string body)> on_body;
  std::function<void(const std::string& error)> on_framing_error;  // empty: framing errors are ignored
  std::function<void(const boost::system::error_code& why)> on_close;
};

template <class Stream>
class Channel : public std::enable_shared_from_this<Channel<Stream>> {
 public:
  explicit Channel(Stream stream, size_t max_body = kMaxBody) : stream_(std::move(stream)), reader_(max_body) {}

  // Starts reading; call once.
  void start(ChannelHandlers handlers) {
    h_ = std::move(handlers);
    boost::system::error_code ec;
    stream_.non_blocking(true, ec);  // writes are tried at once, and never block the thread
    if (ec) return closed(ec);
    read();
  }

  void send(std::string_view body) {
    if (!open_) return;
    out_.push_back(encode_frame(body));
    queued_ += out_.back().size();
    if (max_queued_ && queued_ - out_offset_ > max_queued_) {
      const auto self = this->shared_from_this();  // on_close may drop its owner's pointer
      return closed(boost::asio::error::no_buffer_space);
    }
    if (!batching_) flush();
  }

  // The most bytes that may wait to be written (0: no cap); see the contract.
  void set_max_queued(size_t bytes) { max_queued_ = bytes; }
  // Bytes sent but not yet written to the stream.
  size_t queued() const { return queued_ - out_offset_; }

  // Closes the stream now (on_close runs, with operation_aborted).
  void close() { closed(boost::asio::error::operation_aborted); }
  bool open() const { return open_; }

 private:
  void read() {
    stream_.async_read_some(boost::asio::buffer(buf_), [self = this->shared_from_this()](auto ec, size_t n) {
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

  void flush() {
    while (open_ && !waiting_writable_ && !out_.empty()) {
      // One gather write of as many queued frames as Asio hands the kernel at once (64).
      std::array<boost::asio::const_buffer, 64> buffers;
      size_t count = 0;
      for (auto it = out_.begin(); it != out_.end() && count < buffers.size(); ++it, ++count)
        buffers[count] = boost::asio::buffer(*it) + (count == 0 ? out_offset_ : 0);
      boost::system::error_code ec;
      size_t n = stream_.write_some(std::span(buffers.data(), count), ec);
      if (ec == boost::asio::error::would_block || ec == boost::asio::error::try_again) {
        waiting_writable_ = true;
        stream_.async_wait(Stream::wait_write, [self = this->shared_from_this()](auto wait_ec) {
          self->waiting_writable_ = false;
          if (!self->open_) return;
          if (wait_ec) return self->closed(wait_ec);
          self->flush();
        });
        return;
      }
      if (ec) return closed(ec);
      for (; n > 0 && n >= out_.front().size() - out_offset_; out_offset_ = 0) {  // frames written whole
        n -= out_.front().size() - out_offset_;
        queued_ -= out_.front().size();
        out_.pop_front();
      }
      out_offset_ += n;  // and part of the next one
    }
  }

  void closed(const boost::system::error_code& why) {
    if (!open_) return;
    open_ = false;
    out_.clear();
    queued_ = out_offset_ = 0;
    boost::system::error_code ignored;
    // A socket is shut down as well as closed: a copy of its descriptor that
    // a child process inherited would otherwise keep the connection open.
    if constexpr (requires { stream_.shutdown(Stream::shutdown_both, ignored); })
      stream_.shutdown(Stream::shutdown_both, ignored);
    stream_.close(ignored);
    if (h_.on_close) h_.on_close(why);
  }

  Stream stream_;
  ChannelHandlers h_;
  FrameReader reader_;
  std::array<char, 65536> buf_{};
  std::deque<std::string> out_;  // framed messages not yet (fully) written
  size_t out_offset_ = 0;        // bytes of out_.front() already written
  size_t queued_ = 0;            // bytes of the frames in out_
  size_t max_queued_ = 0;        // 0: no cap
  bool batching_ = false;        // handling the bodies of one read: write after the last
  bool waiting_writable_ = false;
  bool open_ = true;
};

// Reads `In` and writes `Out`: the language server's stdin and stdout as one
// Stream. Closing it closes both.
template <class In, class Out = In>
struct SplitStream {
  static constexpr typename Out::wait_type wait_write = Out::wait_write;
  In in;
  Out out;
  template <class Buffers, class Handler>
  void async_read_some(const Buffers& b, Handler&& h) { in.async_read_some(b, std::forward<Handler>(h)); }
  template <class Buffers>
  size_t write_some(const Buffers& b, boost::system::error_code& ec) { return out.write_some(b, ec); }
  template <class Handler>
  void async_wait(typename Out::wait_type w, Handler&& h) { out.async_wait(w, std::forward<Handler>(h)); }
  void non_blocking(bool on, boost::system::error_code& ec) { out.non_blocking(on, ec); }
  void close(boost::system::error_code& ec) {
    in.close(ec);
    out.close(ec);
  }
};

using SocketChannel = Channel<boost::asio::local::stream_protocol::socket>;
using StdioStream = SplitStream<boost::asio::posix::stream_descriptor>;
using StdioChannel = Channel<StdioStream>;

}  // namespace torchexam::protocol
