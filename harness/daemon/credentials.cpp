#include "daemon/credentials.hpp"

#include "base/hash.hpp"
#include "exam/session_book.hpp"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>

#include <algorithm>

namespace torchexam::daemon {
namespace {

constexpr std::string_view kPrefix = "txm1.";
constexpr size_t kSelectorBytes = 8, kSecretBytes = 32;

std::string random_hex(size_t bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), static_cast<int>(bytes)) != 1)
    throw std::runtime_error("OpenSSL's random generator failed (RAND_bytes); no token was issued");
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned char c : raw) {
    hex += kDigits[c >> 4];
    hex += kDigits[c & 15];
  }
  return hex;
}

bool is_hex(std::string_view s, size_t length) {
  if (s.size() != length) return false;
  for (char c : s)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

}  // namespace

std::string utc_text(int64_t ms) { return utc_stamp(ms) + " UTC"; }  // as the exam's own messages write times

std::string name_problem(std::string_view name) {
  if (name.empty() || name.size() > 64) return "a name has 1 to 64 characters";
  if (name.front() == '.' || name.front() == '-') return "a name may not start with '.' or '-'";
  for (char c : name)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
          c == '-'))
      return fmt::format("'{}' may not appear in a name (letters, digits, '.', '_' and '-' only)", c);
  return "";
}

IssuedToken issue_token(store::Store& db, const Clock& clock, Role role, const std::string& name,
                        const std::string& environment, std::optional<int64_t> ttl_ms) {
  if (auto problem = name_problem(name); !problem.empty())
    throw std::invalid_argument(fmt::format("cannot issue a token for '{}': {}", name, problem));
  if (ttl_ms && *ttl_ms <= 0) throw std::invalid_argument("the token's lifetime must be positive");
  const std::string secret = random_hex(kSecretBytes);
  IssuedToken out;
  out.record.selector = random_hex(kSelectorBytes);
  out.record.name = name;
  out.record.role = to_string(role);
  out.record.environment = environment;
  out.record.secret_sha256 = sha256_hex(secret);
  out.record.created_at_ms = clock.now_ms();
  if (ttl_ms) out.record.expires_at_ms = out.record.created_at_ms + *ttl_ms;
  db.add_credential(out.record);
  out.token = std::string(kPrefix) + out.record.selector + "." + secret;
  return out;
}

Principal authenticate(const store::Store& db, const Clock& clock, std::string_view token) {
  const std::string_view selector = token.substr(std::min(token.size(), kPrefix.size()), kSelectorBytes * 2);
  const size_t dot = kPrefix.size() + kSelectorBytes * 2;
  const std::string_view secret = token.size() > dot ? token.substr(dot + 1) : std::string_view();
  if (!token.starts_with(kPrefix) || token.size() <= dot || token[dot] != '.' ||
      !is_hex(selector, kSelectorBytes * 2) || !is_hex(secret, kSecretBytes * 2))
    throw AuthError(
        "this is not a TorchExam token (one reads txm1.<16 hex digits>.<64 hex digits>, as torchexamd "
        "--add-candidate printed it); check the token file");
  const std::optional<store::CredentialRecord> row = db.credential(std::string(selector));
  // A dummy hash for an unknown selector: the same comparison runs either way.
  const std::string expected = row ? row->secret_sha256 : std::string(64, '0');
  const std::string actual = sha256_hex(secret);
  const bool equal =
      expected.size() == actual.size() && CRYPTO_memcmp(expected.data(), actual.data(), actual.size()) == 0;
  if (!row || !equal)
    throw AuthError(
        "the token is not valid (unknown, or mistyped); ask the examiner for the token torchexamd issued you");
  if (row->revoked_at_ms)
    throw AuthError(fmt::format("the token of {} was revoked at {}; ask the examiner for a new one", row->name,
                                utc_text(*row->revoked_at_ms)));
  if (row->expires_at_ms && clock.now_ms() >= *row->expires_at_ms)
    throw AuthError(fmt::format("the token of {} expired at {}; ask the examiner for a new one", row->name,
                                utc_text(*row->expires_at_ms)));
  return Principal{row->role == "examiner" ? Role::examiner : Role::candidate, row->name, row->environment,
                   row->selector};
}

std::string lapsed(const store::Store& db, const Clock& clock, const Principal& who) {
  const auto row = db.credential(who.selector);
  if (!row) return "its token is gone from the store";
  if (row->revoked_at_ms) return "its token was revoked at " + utc_text(*row->revoked_at_ms);
  if (row->expires_at_ms && clock.now_ms() >= *row->expires_at_ms)
    return "its token expired at " + utc_text(*row->expires_at_ms);
  return "";
}

int revoke_tokens(store::Store& db, const Clock& clock, const std::string& name_or_selector) {
  return db.revoke_credentials(name_or_selector, clock.now_ms());
}

}  // namespace torchexam::daemon
