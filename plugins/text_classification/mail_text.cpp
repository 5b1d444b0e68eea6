// mail_text.cpp — the text of a mail message (mail_text.hpp): a small mail
// reader, enough MIME to get at the text, and the UTF-8 repairs.
#include "mail_text.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

namespace torchexam::text_classification {
namespace {

constexpr int kMaxMimeDepth = 8;  // nested multiparts deeper than this are kept as text

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

std::string_view trim(std::string_view s) {
  const auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}

// ---------------------------------------------------------------------------
// A small mail reader: enough MIME to get at the text of a message.

struct Header {
  std::string name;   // lower case
  std::string value;  // continuation lines joined by a space
};

struct Entity {
  std::vector<Header> headers;
  std::string body;

  std::string get(std::string_view name) const {
    for (const auto& h : headers)
      if (h.name == name) return h.value;
    return "";
  }
};

// Splits at the first empty line; line ends are already '\n'.
Entity parse_entity(std::string_view text) {
  Entity e;
  size_t head_end = 0, body_start = 0;
  if (text.starts_with('\n')) {
    body_start = 1;
  } else if (const size_t blank = text.find("\n\n"); blank != std::string_view::npos) {
    head_end = blank;
    body_start = blank + 2;
  } else {
    head_end = body_start = text.size();
  }
  e.body = std::string(text.substr(body_start));
  std::string_view head = text.substr(0, head_end);
  while (!head.empty()) {
    const size_t eol = std::min(head.find('\n'), head.size());
    std::string_view line = head.substr(0, eol);
    head.remove_prefix(std::min(eol + 1, head.size()));
    if ((line.starts_with(' ') || line.starts_with('\t')) && !e.headers.empty()) {
      e.headers.back().value += ' ';
      e.headers.back().value += trim(line);
    } else if (const size_t colon = line.find(':'); colon != std::string_view::npos) {
      e.headers.push_back({lower(trim(line.substr(0, colon))), std::string(trim(line.substr(colon + 1)))});
    }
  }
  return e;
}

// The media type of a Content-Type value, lower case; text/plain when absent.
std::string media_type(const std::string& content_type) {
  std::string_view v = trim(std::string_view(content_type).substr(0, content_type.find(';')));
  return v.empty() ? "text/plain" : lower(v);
}

// A parameter of a header value, e.g. boundary of "multipart/mixed; boundary=x".
std::optional<std::string> parameter(const std::string& value, std::string_view name) {
  size_t pos = value.find(';');
  while (pos != std::string::npos) {
    std::string_view rest = trim(std::string_view(value).substr(pos + 1));
    const size_t eq = rest.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    if (lower(trim(rest.substr(0, eq))) == name) {
      std::string_view v = trim(rest.substr(eq + 1));
      if (v.starts_with('"')) {
        v.remove_prefix(1);
        return std::string(v.substr(0, v.find('"')));
      }
      return std::string(trim(v.substr(0, v.find(';'))));
    }
    pos = value.find(';', pos + 1);
  }
  return std::nullopt;
}

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Quoted-printable (RFC 2045); in a header's Q encoding '_' is a space.
std::string decode_quoted_printable(std::string_view s, bool header) {
  std::string out;
  out.reserve(s.size());
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    if (c == '=' && i + 1 < s.size() && s[i + 1] == '\n') {
      ++i;  // soft line break
    } else if (c == '=' && i + 2 < s.size() && hex_value(s[i + 1]) >= 0 && hex_value(s[i + 2]) >= 0) {
      out += static_cast<char>(hex_value(s[i + 1]) * 16 + hex_value(s[i + 2]));
      i += 2;
    } else {
      out += header && c == '_' ? ' ' : c;
    }
  }
  return out;
}

// Base64, skipping every character outside the alphabet; stops at '='.
std::string decode_base64(std::string_view s) {
  const auto value = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
  };
  std::string out;
  uint32_t bits = 0;
  int n_bits = 0;
  for (char c : s) {
    if (c == '=') break;
    const int v = value(c);
    if (v < 0) continue;
    bits = (bits << 6) | static_cast<uint32_t>(v);
    n_bits += 6;
    if (n_bits >= 8) {
      n_bits -= 8;
      out += static_cast<char>((bits >> n_bits) & 0xFF);
    }
  }
  return out;
}

std::string decode_transfer(const Entity& e, std::string_view body) {
  const std::string encoding = lower(trim(e.get("content-transfer-encoding")));
  if (encoding == "base64") return decode_base64(body);
  if (encoding == "quoted-printable") return decode_quoted_printable(body, false);
  return std::string(body);
}

// RFC 2047 encoded words, "=?charset?B|Q?text?=", decoded to their bytes;
// whitespace between two adjacent encoded words is dropped.
std::string decode_encoded_words(std::string_view s) {
  std::string out;
  bool last_was_word = false;
  size_t pending_space = 0;  // start of whitespace after an encoded word
  size_t i = 0;
  while (i < s.size()) {
    if (s.substr(i, 2) == "=?") {
      const size_t q1 = s.find('?', i + 2);
      const size_t q2 = q1 == std::string_view::npos ? q1 : s.find('?', q1 + 1);
      const size_t end = q2 == std::string_view::npos ? q2 : s.find("?=", q2 + 1);
      if (end != std::string_view::npos && q2 == q1 + 2) {
        const char kind = s[q1 + 1];
        const std::string_view text = s.substr(q2 + 1, end - q2 - 1);
        if (kind == 'B' || kind == 'b' || kind == 'Q' || kind == 'q') {
          if (last_was_word) out.resize(pending_space);
          out += (kind == 'B' || kind == 'b') ? decode_base64(text) : decode_quoted_printable(text, true);
          i = end + 2;
          last_was_word = true;
          pending_space = out.size();
          continue;
        }
      }
    }
    if (s[i] != ' ' && s[i] != '\t') last_was_word = false;
    out += s[i++];
  }
  return out;
}

// The text of an entity's body: text parts decoded, other parts left out.
std::string body_text(const Entity& e, int depth) {
  const std::string content_type = e.get("content-type");
  const std::string type = media_type(content_type);
  if (type.starts_with("multipart/") && depth < kMaxMimeDepth) {
    if (const auto boundary = parameter(content_type, "boundary"); boundary && !boundary->empty()) {
      const std::string delimiter = "--" + *boundary;
      std::vector<std::string_view> parts;
      std::string_view body = e.body;
      std::optional<size_t> part_start;
      bool closed = false;
      size_t pos = 0;
      while (pos < body.size() && !closed) {
        const size_t eol = std::min(body.find('\n', pos), body.size());
        const std::string_view line = trim(body.substr(pos, eol - pos));
        if (line.starts_with(delimiter)) {
          if (part_start) {
            const size_t end = pos > *part_start ? pos - 1 : pos;  // the delimiter owns the line break before it
            parts.push_back(body.substr(*part_start, end - *part_start));
          }
          closed = line.substr(delimiter.size()).starts_with("--");
          part_start = eol + 1;
        }
        pos = eol + 1;
      }
      if (part_start && !closed && *part_start < body.size()) parts.push_back(body.substr(*part_start));
      if (part_start) {  // at least one delimiter: the parts are the text
        std::string out;
        for (std::string_view part : parts) {
          std::string text = body_text(parse_entity(part), depth + 1);
          if (trim(text).empty()) continue;
          if (!out.empty()) out += "\n\n";
          out += text;
        }
        return out;
      }
    }
    return decode_transfer(e, e.body);  // no usable delimiter: keep the body as text
  }
  if (type.starts_with("message/") && depth < kMaxMimeDepth)
    return body_text(parse_entity(decode_transfer(e, e.body)), depth + 1);  // a forwarded mail
  if (type.starts_with("text/") || type.starts_with("multipart/") || type.starts_with("message/"))
    return decode_transfer(e, e.body);
  return "";
}

// Valid UTF-8 sequences are kept; any other byte is read as Latin-1.
// NUL and CR are removed.
std::string to_utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  const auto at = [&](size_t i) { return i < s.size() ? static_cast<unsigned char>(s[i]) : 0u; };
  for (size_t i = 0; i < s.size();) {
    const unsigned c = at(i);
    if (c < 0x80) {
      if (c != 0 && c != '\r') out += static_cast<char>(c);
      ++i;
      continue;
    }
    // The sequence length from the lead byte, and the allowed range of the
    // second byte (which rules out overlong forms, surrogates and > U+10FFFF).
    size_t len = 0;
    unsigned lo = 0x80, hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    }
    bool valid = len > 0 && at(i + 1) >= lo && at(i + 1) <= hi;
    for (size_t k = 2; valid && k < len; ++k) valid = (at(i + k) & 0xC0) == 0x80;
    if (valid) {
      out.append(s.substr(i, len));
      i += len;
    } else {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
      ++i;
    }
  }
  return out;
}

}  // namespace

void truncate_utf8(std::string& s, size_t max) {
  if (s.size() <= max) return;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  s.resize(cut);
}

std::string fold_whitespace(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n') {
      space = !out.empty();
    } else {
      if (space) out += ' ';
      space = false;
      out += c;
    }
  }
  return out;
}

MailText mail_text(std::string raw) {
  std::erase(raw, '\r');
  const Entity mail = parse_entity(raw);
  MailText t;
  t.subject = to_utf8(trim(decode_encoded_words(mail.get("subject"))));
  std::replace(t.subject.begin(), t.subject.end(), '\n', ' ');
  t.body = to_utf8(body_text(mail, 0));
  return t;
}

}  // namespace torchexam::text_classification
