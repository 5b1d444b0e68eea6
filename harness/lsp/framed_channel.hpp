// framed_channel.hpp — LSP-framed messages over any pair of Asio streams:
// stdin/stdout for the editor, one Unix socket (read and write on the same
// object) for the daemon. The framing itself is protocol::FrameReader; this
// unit only moves bytes.
//
// Contract: the streams are not owned and must outlive the channel; every
// callback runs on the io_context's one thread. A framing error is reported
// through on_error and reading goes on (the reader resynchronises); end of
// input or a read/write error calls on_close once, after which send() drops.
#pragma once

#include "protocol/framing.hpp"

#include <boost/asio/buffer.hpp>
#include <boost/asio/write.hpp>

#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <string>

namespace torchexam::lsp {

template <class ReadStream, class WriteStream>
class FramedChannel : public std::enable_shared_from_this<FramedChannel<ReadStream, WriteStream>> {
 public:
  struct Handlers {
    std::function<void(std::string body)> on_body;
    std::function<void(const std::string& framing_error)> on_error;
    std::function<void()> on_close;
  };

  FramedChannel(ReadStream& in, WriteStream& out) : in_(in), out_(out) {}

  void start(Handlers h) {
    h_ = std::move(h);
    read();
  }

  // Frames `body` and queues it; written in order.
  void send(std::string body) {
    if (!open_) return;
    queue_.push_back(protocol::encode_frame(body));
    if (!writing_) write();
  }

  bool open() const { return open_; }

 private:
  void read() {
    in_.async_read_some(boost::asio::buffer(buf_), [self = this->shared_from_this()](auto ec, size_t n) {
      if (ec) return self->closed();
      self->reader_.feed(std::string_view(self->buf_.data(), n));
      while (auto next = self->reader_.next()) {
        if (auto* f = std::get_if<protocol::Frame>(&*next)) {
          if (self->h_.on_body) self->h_.on_body(std::move(f->body));
        } else if (self->h_.on_error) {
          self->h_.on_error(std::get<protocol::FramingError>(*next).message);
        }
        if (!self->open_) return;
      }
      self->read();
    });
  }

  void write() {
    writing_ = true;
    boost::asio::async_write(out_, boost::asio::buffer(queue_.front()),
                             [self = this->shared_from_this()](auto ec, size_t) {
                               self->writing_ = false;
                               if (ec) return self->closed();
                               self->queue_.pop_front();
                               if (!self->queue_.empty() && self->open_) self->write();
                             });
  }

  void closed() {
    if (!open_) return;
    open_ = false;
    queue_.clear();
    if (h_.on_close) h_.on_close();
  }

  ReadStream& in_;
  WriteStream& out_;
  Handlers h_;
  protocol::FrameReader reader_;
  std::array<char, 65536> buf_{};
  std::deque<std::string> queue_;
  bool writing_ = false;
  bool open_ = true;
};

}  // namespace torchexam::lsp
