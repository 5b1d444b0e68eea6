// channel.hpp — the protocol's one framed transport: LSP base framing
// (framing.hpp) over a byte stream. The daemon serves each client through a
// Channel, the language server talks to the editor (stdin/stdout) and to the
// daemon through one each, and the CLI's client through BlockingChannel. As
// clangd's Transport, a channel only moves message bodies; what a body means
// (JSON-RPC, the binder, the LSP) is decided above it.
//
// Shape: one asynchronous reader/writer, Channel<Stream>, and for blocking
// users BlockingChannel, which owns a private io_context and runs that same
// Channel until a body arrives or a deadline passes
// (io_context::run_one_until, Asio's own timed wait). A synchronous face of
// its own would repeat the read loop, the resynchronisation and the write
// queue for one caller; the adapter repeats none of them, and is all the
// blocking side needs.
//
// Stream: an Asio stream with async_read_some, write_some of a buffer
// sequence (non-blocking once non_blocking(true) is set), async_wait(
// Stream::wait_write), non_blocking() and close(); shutdown() is used when it
// has one. A Unix socket is one; SplitStream below makes one of a pair of
// descriptors (stdin, stdout). Another transport is another Stream and one
// explicit instantiation in channel.cpp.
//
// Channel contract:
//  - Threads: every call and every handler runs on the stream's executor, on
//    the one thread that runs its io_context. Not thread-safe.
//  - Ownership: the channel owns its stream and is held by shared_ptr (make
//    it with std::make_shared); its pending reads and waits keep it alive
//    until it closes. Handlers must not hold it by shared_ptr (a cycle):
//    capture a weak_ptr, or a raw pointer used only inside a handler.
//  - Reading: on_body gets each body, in order. The bodies of one read are
//    all handled before anything is written: what the handlers send
//    meanwhile goes out together after the last of them.
//  - A malformed frame (a bad header block, a body over max_body) goes to
//    on_framing_error with the reader's message (docs/protocol.md §1 lists
//    them); the reader resynchronises and the channel stays open.
//  - End of input (in the middle of a frame too: the partial frame is
//    dropped), a read or write error, or close(): on_close runs once, with
//    the error (asio::error::eof at end of input, operation_aborted after
//    close()). After that no handler runs, send() drops what it is given,
//    and what was queued is dropped.
//  - Writing: send() frames the body and writes at once, as much as the
//    stream takes, in one gather write of up to 64 frames; it never blocks.
//    The rest waits until the stream is writable. Frames go out in the
//    order they were sent; none is dropped while the channel is open. The
//    queue has no cap.
//  - Timeouts: none. A channel waits for its peer for ever; deadlines are
//    the blocking side's (BlockingChannel).
#pragma once

#include "protocol/framing.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <array>
#include <chrono>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <variant>

namespace torchexam::protocol {

struct ChannelHandlers {
  std::function<void(std::string body)> on_body;
  std::function<void(const std::string& error)> on_framing_error;  // empty: framing errors are ignored
  std::function<void(const boost::system::error_code& why)> on_close;
};

template <class Stream>
class Channel : public std::enable_shared_from_this<Channel<Stream>> {
 public:
  explicit Channel(Stream stream, size_t max_body = kMaxBody);
  // Starts reading; call once.
  void start(ChannelHandlers handlers);
  void send(std::string_view body);
  // Closes the stream now (on_close runs, with operation_aborted).
  void close();
  bool open() const { return open_; }

 private:
  void read();
  void flush();
  void consume(size_t n);  // drops what was written from the queue
  void closed(const boost::system::error_code& why);

  Stream stream_;
  ChannelHandlers h_;
  FrameReader reader_;
  std::array<char, 65536> buf_{};
  std::deque<std::string> out_;  // framed messages not yet (fully) written
  size_t out_offset_ = 0;        // bytes of out_.front() already written
  bool batching_ = false;        // handling the bodies of one read: write after the last
  bool waiting_writable_ = false;
  bool open_ = true;
};

// Reads from `In` and writes to `Out`: the language server's stdin and
// stdout as one Stream. Closing it closes both.
template <class In, class Out = In>
class SplitStream {
 public:
  using executor_type = typename In::executor_type;
  static constexpr typename Out::wait_type wait_write = Out::wait_write;

  SplitStream(In in, Out out) : in_(std::move(in)), out_(std::move(out)) {}
  executor_type get_executor() { return in_.get_executor(); }
  template <class Buffers, class Handler>
  void async_read_some(const Buffers& buffers, Handler&& handler) {
    in_.async_read_some(buffers, std::forward<Handler>(handler));
  }
  template <class Buffers>
  size_t write_some(const Buffers& buffers, boost::system::error_code& ec) {
    return out_.write_some(buffers, ec);
  }
  template <class Handler>
  void async_wait(typename Out::wait_type what, Handler&& handler) {
    out_.async_wait(what, std::forward<Handler>(handler));
  }
  void non_blocking(bool on, boost::system::error_code& ec) { out_.non_blocking(on, ec); }
  void close(boost::system::error_code& ec) {
    in_.close(ec);
    out_.close(ec);
  }

 private:
  In in_;
  Out out_;
};

using SocketChannel = Channel<boost::asio::local::stream_protocol::socket>;
using StdioStream = SplitStream<boost::asio::posix::stream_descriptor>;
using StdioChannel = Channel<StdioStream>;

class ChannelError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A SocketChannel for a caller that waits: one connected socket, used from
// one thread at a time.
//  - receive(deadline): the next body; nullopt when `deadline` passes before
//    one is whole (bytes already in the socket are read first, even when the
//    deadline has passed). Throws ChannelError "<peer> sent a malformed
//    frame: ..." for a framing error, in its place among the bodies (the
//    next receive() goes on after it), and "<peer> closed the connection
//    (...)" once the channel closed and every body before the end was
//    returned; from then on every call throws that.
//  - send(body): queues and writes what the socket takes at once; the rest
//    is written while a later receive() waits. Throws ChannelError once the
//    channel closed.
class BlockingChannel {
 public:
  // `socket` must belong to `io`; `peer` names the other end in errors.
  BlockingChannel(std::unique_ptr<boost::asio::io_context> io, boost::asio::local::stream_protocol::socket socket,
                  std::string peer, size_t max_body = kMaxBody);
  ~BlockingChannel();
  BlockingChannel(const BlockingChannel&) = delete;
  BlockingChannel& operator=(const BlockingChannel&) = delete;

  std::optional<std::string> receive(std::chrono::steady_clock::time_point deadline);
  void send(std::string_view body);

 private:
  std::unique_ptr<boost::asio::io_context> io_;
  std::string peer_;
  std::shared_ptr<SocketChannel> channel_;
  std::deque<std::variant<std::string, FramingError>> inbox_;
  std::optional<std::string> closed_;  // why, once the channel closed
};

}  // namespace torchexam::protocol
