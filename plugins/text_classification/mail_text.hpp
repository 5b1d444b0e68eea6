// mail_text.hpp — what the text_classification plugin reads of a mail
// message: the Subject and the text of the body, as the plugin's header
// comment (text_classification.cpp, "Text of a message") describes: headers
// dropped but the Subject (RFC 2047 words decoded), the body walked as MIME
// with text/* parts kept and their transfer encoding undone, everything made
// valid UTF-8 (stray bytes read as Latin-1), CR and NUL removed.
//
// Pure functions on bytes: never throw but std::bad_alloc, any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace torchexam::text_classification {

struct MailText {
  std::string subject;  // one line
  std::string body;     // text parts joined by a blank line
};

// `raw`: the message as received (headers, blank line, body).
MailText mail_text(std::string raw);

// Cuts valid UTF-8 to at most `max` bytes without splitting a character.
void truncate_utf8(std::string& s, size_t max);

// Every run of spaces, tabs and line breaks as one space; none at the ends.
std::string fold_whitespace(std::string_view s);

}  // namespace torchexam::text_classification
