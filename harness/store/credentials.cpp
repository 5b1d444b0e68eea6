// credentials.cpp — the proctored server's credentials of store.hpp (the
// table of migration 3), on the plumbing of sqlite.hpp. Each call is one
// statement, so its own transaction.
#include "store/sqlite.hpp"

namespace torchexam::store::sql {
namespace {

const auto kCredentials =
    table("credentials", column("selector", &CredentialRecord::selector), column("name", &CredentialRecord::name),
          column("role", &CredentialRecord::role), column("environment", &CredentialRecord::environment),
          column("secret_sha256", &CredentialRecord::secret_sha256),
          column("created_at_ms", &CredentialRecord::created_at_ms),
          column("expires_at_ms", &CredentialRecord::expires_at_ms),
          column("revoked_at_ms", &CredentialRecord::revoked_at_ms));

}  // namespace

void add_credential(sqlite3* db, const CredentialRecord& c) {
  Stmt q(db, kCredentials.insert(), "add_credential");
  kCredentials.bind(q, c);
  q.run();
}

std::optional<CredentialRecord> credential(sqlite3* db, const std::string& selector) {
  Stmt q(db, kCredentials.select("WHERE selector = ?1"), "credential");
  q.bind(1, selector);
  return kCredentials.first(q);
}

std::vector<CredentialRecord> credentials(sqlite3* db) {
  Stmt q(db, kCredentials.select("ORDER BY name, created_at_ms, selector"), "credentials");
  return kCredentials.rows(q);
}

int revoke_credentials(sqlite3* db, const std::string& name_or_selector, int64_t at_ms) {
  Stmt q(db, "UPDATE credentials SET revoked_at_ms = ?1 WHERE revoked_at_ms IS NULL AND (name = ?2 OR selector = ?2)",
         "revoke_credentials");
  q.bind(1, at_ms).bind(2, name_or_selector).run();
  return sqlite3_changes(db);
}

}  // namespace torchexam::store::sql
