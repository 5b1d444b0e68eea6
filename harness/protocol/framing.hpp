// framing.hpp — LSP base framing: "Content-Length: N\r\n\r\n" + N bytes.
//
// FrameReader is a pure byte-stream parser (no I/O), so the transport can be
// swapped and the parser fuzzed. Malformed input never throws: next()
// returns a FramingError and resynchronises at the next line that starts a
// "Content-Length:" header, so one bad message does not end the connection.
// Limits: a header block over 8 KiB or a body over max_body is an error.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace torchexam::protocol {

// The largest body a reader takes by default (docs/protocol.md §1).
inline constexpr size_t kMaxBody = size_t{16} << 20;

struct Frame {
  std::string body;
};

struct FramingError {
  std::string message;
};

class FrameReader {
 public:
  explicit FrameReader(size_t max_body = kMaxBody) : max_body_(max_body) {}

  void feed(std::string_view bytes) { buf_.append(bytes); }

  // The next frame or framing error; nullopt when more bytes are needed.
  std::optional<std::variant<Frame, FramingError>> next();

  size_t buffered() const { return buf_.size(); }

 private:
  FramingError fail(std::string message);  // drops the bad header, resynchronises
  std::string buf_;
  size_t max_body_;
  std::optional<size_t> body_length_;  // header parsed, waiting for the body
  size_t skip_ = 0;                    // bytes of an over-long body still to drop
};

std::string encode_frame(std::string_view body);

}  // namespace torchexam::protocol
