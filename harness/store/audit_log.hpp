// audit_log.hpp — the proctored server's audit log (docs/server.md): one
// row per login, refusal, dropped connection and call that changes
// something, with who, from where and, for an upload, the source's hash.
// A table of the daemon's store (migration 3) on a connection of its own;
// append-only: SQLite triggers refuse UPDATE and DELETE on it.
//
// Threads: one AuditLog per thread. Errors: StoreError (the store's).
#pragma once

#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

struct sqlite3;

namespace torchexam::store {

struct AuditRecord {
  int64_t id = 0;  // assigned by append
  int64_t at_ms = 0;
  std::string who;     // "candidate ana", "examiner eve"; "" before a login
  std::string peer;    // the client's address, host:port
  std::string event;   // login, login_refused, call, refused, closed, plaintext, handshake_failed, idle
  std::string method;  // the JSON-RPC method, when there is one
  std::string detail;
};

class AuditLog {
 public:
  // The log of the store in `state_dir` (Store::open has made and migrated it).
  explicit AuditLog(const std::filesystem::path& state_dir);
  ~AuditLog();
  void append(const AuditRecord& r);
  std::vector<AuditRecord> records() const;  // oldest first

 private:
  struct Closer {
    void operator()(sqlite3* db) const;
  };
  std::unique_ptr<sqlite3, Closer> db_;
};

}  // namespace torchexam::store
