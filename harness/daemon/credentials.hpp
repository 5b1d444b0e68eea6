// credentials.hpp — the proctored server's tokens (docs/server.md): issued
// by `torchexamd --add-candidate NAME` / `--add-examiner NAME`, shown once,
// kept in the daemon's store only as the SHA-256 of their secret part;
// revoked by name or selector; optionally expiring.
//
// A token reads `txm1.<selector>.<secret>`: 16 hex digits that find its row
// (not secret: they appear in `--list-tokens`), then 64 hex digits (32 bytes
// from OpenSSL's RAND_bytes). A login hashes the secret and compares it with
// the stored hash in constant time (CRYPTO_memcmp); an unknown selector is
// compared against a dummy hash, so both refusals take the same path and say
// the same words.
//
// Errors: AuthError with a message for the person holding the token (what
// was wrong, what to do); std::invalid_argument for a bad name or
// environment at issue time; store::StoreError from the store. Threads: the
// store's (one thread).
#pragma once

#include "base/clock.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

namespace torchexam::daemon {

enum class Role { candidate, examiner };
inline const char* to_string(Role r) { return r == Role::examiner ? "examiner" : "candidate"; }

// Who a connection is, once its token checked out.
struct Principal {
  Role role = Role::candidate;
  std::string name;
  std::string environment;  // a candidate's environment folder ("" : any installed one)
  std::string selector;     // the credential's, for the log
};

class AuthError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct IssuedToken {
  std::string token;  // shown once; never stored
  store::CredentialRecord record;
};

// "" when `name` may name a candidate or examiner (1-64 of A-Z a-z 0-9 . _ -,
// not starting with . or -: it becomes a folder name), else why not.
std::string name_problem(std::string_view name);

// Issues a token for `name` with `role`; `environment` is stored as given
// (the caller resolves it); `ttl_ms` unset: it does not expire.
// Throws std::invalid_argument for a bad name or ttl.
IssuedToken issue_token(store::Store& db, const Clock& clock, Role role, const std::string& name,
                        const std::string& environment, std::optional<int64_t> ttl_ms);

// The principal `token` stands for, or AuthError: not a token, unknown or
// wrong secret (one message for both), revoked, expired.
Principal authenticate(const store::Store& db, const Clock& clock, std::string_view token);

// "20261205-224116 UTC" (exam/session_book.hpp's utc_stamp), for the
// messages and the token list.
std::string utc_text(int64_t ms);

// Why a principal authenticate() gave is no longer let in (its token was
// revoked or has expired since), or "" while it still is.
std::string lapsed(const store::Store& db, const Clock& clock, const Principal& who);

// Revokes every live token of `name_or_selector`; returns how many.
int revoke_tokens(store::Store& db, const Clock& clock, const std::string& name_or_selector);

}  // namespace torchexam::daemon
