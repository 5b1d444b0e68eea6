#include "text.hpp"

#include <string>

namespace torchexam {
namespace {

// Length of the well-formed UTF-8 sequence at s[i], or 0 (RFC 3629, table 3-7
// of the Unicode standard: no overlongs, no surrogates, nothing past U+10FFFF).
size_t sequence_length(std::string_view s, size_t i) {
  const auto b = [&](size_t k) { return static_cast<unsigned char>(s[i + k]); };
  const unsigned char c = b(0);
  if (c < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (c >= 0xC2 && c <= 0xDF) {
    n = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    n = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    n = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  if (b(1) < lo || b(1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((b(k) & 0xC0) != 0x80) return 0;
  return n;
}

// The largest cut <= `at` that does not fall inside a character.
size_t char_boundary(std::string_view s, size_t at) {
  while (at > 0 && at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return at;
}

}  // namespace

std::string to_valid_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size();) {
    const size_t n = sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

std::string bounded(std::string_view s, size_t max_bytes) {
  if (s.size() <= max_bytes) return std::string(s);
  const size_t tail = max_bytes / 8;
  const size_t head_end = char_boundary(s, max_bytes - tail);
  size_t tail_start = s.size() - tail;
  while (tail_start < s.size() && (static_cast<unsigned char>(s[tail_start]) & 0xC0) == 0x80) ++tail_start;
  std::string out(s.substr(0, head_end));
  out += "\n[... " + std::to_string(tail_start - head_end) + " bytes omitted ...]\n";
  out.append(s.substr(tail_start));
  return out;
}

}  // namespace torchexam
