#include "sandbox/text.hpp"

#include <string>

namespace torchexam {
namespace {

// The length of the well-formed sequence starting at text[i]; when there is
// none, 0 and `bad` = the length of the maximal ill-formed subpart (>= 1).
size_t sequence_at(std::string_view text, size_t i, size_t& bad) {
  const auto byte = [&](size_t k) { return static_cast<unsigned char>(text[k]); };
  const unsigned char lead = byte(i);
  bad = 1;
  if (lead < 0x80) return 1;
  size_t n = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // the range of the second byte
  if (lead >= 0xC2 && lead <= 0xDF)
    n = 2;
  else if (lead >= 0xE0 && lead <= 0xEF) {
    n = 3;
    if (lead == 0xE0) lo = 0xA0;  // overlong
    if (lead == 0xED) hi = 0x9F;  // surrogates
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    n = 4;
    if (lead == 0xF0) lo = 0x90;  // overlong
    if (lead == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return 0;
  }
  for (size_t k = 1; k < n; ++k) {
    if (i + k >= text.size()) return 0;
    const unsigned char c = byte(i + k);
    if (k == 1 ? (c < lo || c > hi) : (c < 0x80 || c > 0xBF)) return 0;
    bad = k + 1;
  }
  return n;
}

// The largest cut <= `at` that does not fall inside a character.
size_t char_boundary(std::string_view s, size_t at) {
  while (at > 0 && at < s.size() && (static_cast<unsigned char>(s[at]) & 0xC0) == 0x80) --at;
  return at;
}

}  // namespace

bool is_valid_utf8(std::string_view text) {
  size_t bad = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = sequence_at(text, i, bad);
    if (n == 0) return false;
    i += n;
  }
  return true;
}

std::vector<std::string> to_valid_utf8(const std::vector<std::string>& texts) {
  std::vector<std::string> out;
  out.reserve(texts.size());
  for (const auto& t : texts) out.push_back(to_valid_utf8(t));
  return out;
}

std::string to_valid_utf8(std::string_view text) {
  if (is_valid_utf8(text)) return std::string(text);
  std::string out;
  out.reserve(text.size() + 16);
  size_t bad = 0;
  for (size_t i = 0; i < text.size();) {
    const size_t n = sequence_at(text, i, bad);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      i += bad;
    } else {
      out.append(text.substr(i, n));
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
