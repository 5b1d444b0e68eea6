#include "base/base64.hpp"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <climits>
#include <stdexcept>

namespace torchexam {

namespace {

bool in_alphabet(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/';
}

std::string shown(char c) {
  const auto u = static_cast<unsigned char>(c);
  return u >= 0x20 && u < 0x7f ? fmt::format("'{}'", c) : fmt::format("byte 0x{:02x}", u);
}

}  // namespace

std::string base64_encode(std::string_view bytes) {
  if (bytes.size() > static_cast<size_t>(INT_MAX / 4 * 3)) throw std::length_error("base64_encode: input too large");
  std::string out(base64_size(bytes.size()) + 1, '\0');  // EVP_EncodeBlock ends with a NUL
  const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()), static_cast<int>(bytes.size()));
  out.resize(static_cast<size_t>(n));
  return out;
}

std::string base64_decode(std::string_view text) {
  if (text.size() % 4 != 0)
    throw std::invalid_argument(fmt::format("its length, {}, is not a multiple of 4", text.size()));
  if (text.size() > static_cast<size_t>(INT_MAX)) throw std::invalid_argument("it is too long");
  // EVP_DecodeBlock skips whitespace at either end and writes padding as
  // zero bytes: the checks here make it see only canonical text.
  size_t padding = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '=') {
      if (i + 2 < text.size() || (i + 2 == text.size() && text[i + 1] != '='))
        throw std::invalid_argument(fmt::format("'=' at offset {} is padding before the end", i));
      ++padding;
    } else if (!in_alphabet(c)) {
      throw std::invalid_argument(fmt::format("{} at offset {} is not a base64 character", shown(c), i));
    }
  }
  std::string out(text.size() / 4 * 3, '\0');
  const int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(text.data()), static_cast<int>(text.size()));
  if (n < 0 || static_cast<size_t>(n) != out.size()) throw std::invalid_argument("OpenSSL could not decode it");
  out.resize(out.size() - padding);
  return out;
}

}  // namespace torchexam
