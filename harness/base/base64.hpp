// base64.hpp — standard base64 (RFC 4648 §4: A-Z a-z 0-9 + /, '=' padding,
// no line breaks) through OpenSSL's EVP_EncodeBlock and EVP_DecodeBlock:
// how task/upload carries a binary file (a TorchScript model) in a JSON
// string, which holds UTF-8 text only. Pure functions, any thread.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace torchexam {

// The base64 text of `bytes`: 4 characters for every 3 bytes, rounded up.
std::string base64_encode(std::string_view bytes);

// The bytes `text` encodes. Strict: a length that is not a multiple of 4, a
// character outside the alphabet (whitespace included), or '=' anywhere but
// the last one or two places throws std::invalid_argument saying which and
// where ("'!' at offset 17 is not a base64 character").
std::string base64_decode(std::string_view text);

// The length of base64_encode's text for `bytes` bytes.
constexpr size_t base64_size(size_t bytes) { return (bytes + 2) / 3 * 4; }

}  // namespace torchexam
