#include "protocol/framing.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace torchexam::protocol {
namespace {

constexpr size_t kMaxHeader = 8192;
constexpr std::string_view kHeaderEnd = "\r\n\r\n";

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

constexpr std::string_view kLengthHeader = "content-length:";

// Position (after the first byte) of the next "Content-Length:", any case,
// or npos: where a sender that is back in step starts its next message.
size_t next_header_start(const std::string& buf) {
  for (size_t pos = 1; pos + kLengthHeader.size() <= buf.size(); ++pos)
    if (iequals(std::string_view(buf).substr(pos, kLengthHeader.size()), kLengthHeader)) return pos;
  return std::string::npos;
}

}  // namespace

FramingError FrameReader::fail(std::string message) {
  body_length_.reset();
  const size_t resume = next_header_start(buf_);
  if (resume != std::string::npos) {
    buf_.erase(0, resume);
    return {std::move(message)};
  }
  // Without a resume point, keep only the longest tail that could be the
  // start of a "Content-Length:" still arriving.
  size_t keep = std::min(buf_.size(), kLengthHeader.size() - 1);
  while (keep > 0 && !iequals(std::string_view(buf_).substr(buf_.size() - keep), kLengthHeader.substr(0, keep))) --keep;
  buf_.erase(0, buf_.size() - keep);
  return {std::move(message)};
}

std::optional<std::variant<Frame, FramingError>> FrameReader::next() {
  if (skip_ > 0) {
    const size_t n = std::min(skip_, buf_.size());
    buf_.erase(0, n);
    skip_ -= n;
    if (skip_ > 0) return std::nullopt;
  }
  if (!body_length_) {
    const size_t end = buf_.find(kHeaderEnd);
    if (end == std::string::npos) {
      if (buf_.size() > kMaxHeader) return fail("header block longer than 8 KiB without an empty line");
      return std::nullopt;
    }
    if (end > kMaxHeader) return fail("header block longer than 8 KiB");
    std::optional<size_t> length;
    std::string_view header(buf_.data(), end);
    size_t start = 0;
    while (start <= header.size()) {
      size_t eol = header.find("\r\n", start);
      if (eol == std::string_view::npos) eol = header.size();
      std::string_view line = header.substr(start, eol - start);
      start = eol + 2;
      if (line.empty()) continue;
      const size_t colon = line.find(':');
      if (colon == std::string_view::npos) return fail("malformed header line (no ':'): " + std::string(line.substr(0, 80)));
      const std::string_view name = trim(line.substr(0, colon));
      const std::string_view value = trim(line.substr(colon + 1));
      if (iequals(name, "Content-Length")) {
        size_t n = 0;
        auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
        if (ec != std::errc() || ptr != value.data() + value.size() || value.empty())
          return fail("Content-Length is not a number: '" + std::string(value.substr(0, 40)) + "'");
        length = n;
      }
      // Other headers (Content-Type) are accepted and ignored.
    }
    if (!length) return fail("header without Content-Length");
    if (*length > max_body_) {
      // The length is known: drop the body whole rather than parse it as headers.
      buf_.erase(0, end + kHeaderEnd.size());
      skip_ = *length;
      return FramingError{"message of " + std::to_string(*length) + " bytes is over the limit of " +
                          std::to_string(max_body_)};
    }
    buf_.erase(0, end + kHeaderEnd.size());
    body_length_ = length;
  }
  if (buf_.size() < *body_length_) return std::nullopt;
  Frame f{buf_.substr(0, *body_length_)};
  buf_.erase(0, *body_length_);
  body_length_.reset();
  return f;
}

std::string encode_frame(std::string_view body) {
  constexpr std::string_view name = "Content-Length: ";
  const std::string length = std::to_string(body.size());
  std::string out;
  out.reserve(name.size() + length.size() + kHeaderEnd.size() + body.size());  // one allocation
  out += name;
  out += length;
  out += kHeaderEnd;
  out += body;
  return out;
}

}  // namespace torchexam::protocol
