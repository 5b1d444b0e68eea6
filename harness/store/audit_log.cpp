#include "store/audit_log.hpp"

#include "store/sqlite.hpp"

namespace torchexam::store {
using namespace sql;

namespace {
const auto kAudit =
    table("audit", column("id", &AuditRecord::id), column("at_ms", &AuditRecord::at_ms),
          column("who", &AuditRecord::who), column("peer", &AuditRecord::peer), column("event", &AuditRecord::event),
          column("method", &AuditRecord::method), column("detail", &AuditRecord::detail));
constexpr size_t kIdColumn = 1;
}  // namespace

void AuditLog::Closer::operator()(sqlite3* db) const { sqlite3_close_v2(db); }

AuditLog::AuditLog(const std::filesystem::path& state_dir) {
  const auto path = state_dir / "torchexam.db";
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, nullptr);
  db_.reset(raw);
  if (rc != SQLITE_OK) fail(raw, "open the audit log in " + path.string());
  if (sqlite3_busy_timeout(raw, 5000) != SQLITE_OK) fail(raw, "set busy_timeout");
}

AuditLog::~AuditLog() = default;

void AuditLog::append(const AuditRecord& r) {
  Stmt q(db_.get(), kAudit.insert(kIdColumn), "append to the audit log");
  kAudit.bind(q, r, kIdColumn);
  q.run();
}

std::vector<AuditRecord> AuditLog::records() const {
  Stmt q(db_.get(), kAudit.select("ORDER BY id"), "read the audit log");
  return kAudit.rows(q);
}

}  // namespace torchexam::store
