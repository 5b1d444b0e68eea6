// store.cpp — the SQLite implementation of store.hpp.
//
// Organisation, top to bottom:
//   1. SQLite plumbing: in sqlite.hpp (Db, Stmt, fail(), Transaction, Table),
//      shared with judgings.cpp (the judgings and rejudging sets).
//   2. Schema: kMigrations, the ordered list of migration scripts. Migration i
//      (1-based) brings the file from user_version i-1 to i. Scripts are
//      append-only: never edit one that has shipped, add a new one instead.
//   3. Artifacts: their files are written durably (base/hash.hpp).
//   4. Records: each record type described once, as its table's columns,
//      from which the statements' column lists, the row reader and the
//      binder come; then SqliteStore, the Store, one method per interface
//      call; every write is a single statement and so its own (autocommit)
//      transaction.
//   5. Store::open: directories, connection, pragmas, migrations.
//
// Durability: journal_mode=WAL with synchronous=FULL, so a commit has reached
// the disk before the call that made it returns (WAL + NORMAL would already
// survive a killed process; FULL also survives a power loss).
// All SQL is built from constant text (statements, table and column names);
// values only ever travel as bound parameters.
#include "store/store.hpp"

#include "store/sqlite.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

#include <array>
#include <cstddef>
#include <system_error>
#include <tuple>
#include <utility>
#include <vector>

#include "base/hash.hpp"

namespace torchexam::store {
namespace fs = std::filesystem;
namespace {
using namespace sql;

// ---------------------------------------------------------------------------
// 2. Schema

constexpr std::array kMigrations = {
    // 1: sessions, submissions and their progress events.
    R"sql(
CREATE TABLE sessions (
  id              TEXT PRIMARY KEY NOT NULL,
  environment_dir TEXT NOT NULL,
  workspace       TEXT NOT NULL,
  mode            TEXT NOT NULL CHECK (mode IN ('practice', 'exam')),
  started_at_ms   INTEGER NOT NULL,
  duration_ms     INTEGER NOT NULL CHECK (duration_ms >= 0),
  paused_total_ms INTEGER NOT NULL CHECK (paused_total_ms >= 0),
  paused_since_ms INTEGER,
  state           TEXT NOT NULL CHECK (state IN ('running', 'paused', 'closed', 'stopped')),
  closed_at_ms    INTEGER
) STRICT;

CREATE TABLE submissions (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  session_id      TEXT NOT NULL REFERENCES sessions(id),
  task            TEXT NOT NULL,
  source_hash     TEXT NOT NULL,
  source_name     TEXT NOT NULL,
  submitted_at_ms INTEGER NOT NULL,
  state           TEXT NOT NULL
                  CHECK (state IN ('queued', 'running', 'finished', 'cancelled', 'interrupted')),
  verdict         TEXT,
  metric          REAL,
  score           INTEGER NOT NULL,
  message         TEXT NOT NULL,
  detail          TEXT NOT NULL,
  result_json     TEXT NOT NULL,
  curve_json      TEXT NOT NULL,
  finished_at_ms  INTEGER,
  attempts        INTEGER NOT NULL CHECK (attempts >= 0)
) STRICT;
CREATE INDEX submissions_by_session_task ON submissions(session_id, task);
CREATE INDEX submissions_by_state ON submissions(state);

CREATE TABLE events (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  json          TEXT NOT NULL
) STRICT;
CREATE INDEX events_by_submission ON events(submission_id, id);
)sql",
    // 2: judgings (every grading of a submission, one of them live) and
    // rejudging sets (docs/rejudging.md); each finished submission's own
    // grading becomes its live judging.
    R"sql(
CREATE TABLE rejudges (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  kind          TEXT NOT NULL CHECK (kind IN ('rescore', 'retrain')),
  selection     TEXT NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('running', 'review', 'applied', 'cancelled')),
  created_at_ms INTEGER NOT NULL,
  reason        TEXT NOT NULL
) STRICT;

CREATE TABLE judgings (
  id             INTEGER PRIMARY KEY AUTOINCREMENT,
  submission_id  INTEGER NOT NULL REFERENCES submissions(id),
  rejudge_id     INTEGER REFERENCES rejudges(id),
  live           INTEGER NOT NULL CHECK (live IN (0, 1)),
  verdict        TEXT,
  metric         REAL,
  score          INTEGER NOT NULL,
  result_json    TEXT NOT NULL,
  curve_json     TEXT NOT NULL,
  finished_at_ms INTEGER
) STRICT;
CREATE UNIQUE INDEX one_live_judging ON judgings(submission_id) WHERE live = 1;
CREATE INDEX judgings_by_submission ON judgings(submission_id, id);

CREATE TABLE rejudge_items (
  rejudge_id    INTEGER NOT NULL REFERENCES rejudges(id),
  submission_id INTEGER NOT NULL REFERENCES submissions(id),
  old_judging   INTEGER NOT NULL REFERENCES judgings(id),
  new_judging   INTEGER REFERENCES judgings(id),
  state         TEXT NOT NULL CHECK (state IN ('queued', 'running', 'done')),
  note          TEXT NOT NULL,
  PRIMARY KEY (rejudge_id, submission_id)
) STRICT;
CREATE INDEX rejudge_items_by_submission ON rejudge_items(submission_id);

INSERT INTO judgings (submission_id, rejudge_id, live, verdict, metric, score, result_json, curve_json, finished_at_ms)
  SELECT id, NULL, 1, verdict, metric, score, result_json, curve_json, finished_at_ms
  FROM submissions WHERE state = 'finished' ORDER BY id;
)sql",
    // 3: the proctored server's credentials (daemon/credentials.hpp): one
    // row per issued token, the token itself never stored, only the
    // SHA-256 of its secret part; revoked and expired rows are kept. And its
    // append-only audit log.
    R"sql(
CREATE TABLE credentials (
  selector      TEXT PRIMARY KEY NOT NULL,
  name          TEXT NOT NULL,
  role          TEXT NOT NULL CHECK (role IN ('candidate', 'examiner')),
  environment   TEXT NOT NULL,
  secret_sha256 TEXT NOT NULL,
  created_at_ms INTEGER NOT NULL,
  expires_at_ms INTEGER,
  revoked_at_ms INTEGER
) STRICT;
CREATE INDEX credentials_by_name ON credentials(name);

-- What happened on the proctored server, who did it and from where
-- (store/audit_log.hpp). Append-only: the triggers refuse any change.
CREATE TABLE audit (
  id     INTEGER PRIMARY KEY AUTOINCREMENT,
  at_ms  INTEGER NOT NULL,
  who    TEXT NOT NULL,
  peer   TEXT NOT NULL,
  event  TEXT NOT NULL,
  method TEXT NOT NULL,
  detail TEXT NOT NULL
) STRICT;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
)sql",
};
constexpr int kSchemaVersion = static_cast<int>(kMigrations.size());

// Applies the migrations the file lacks, one transaction each. The version is
// re-read inside each write transaction, so two processes opening the same
// fresh directory cannot apply a migration twice.
void migrate(sqlite3* db, const fs::path& db_path) {
  for (;;) {
    exec(db, "BEGIN IMMEDIATE", "begin a migration");
    const int version = user_version(db);
    if (version > kSchemaVersion) {
      exec(db, "ROLLBACK", "end the migration check");
      throw StoreError("the state database " + db_path.string() + " has schema version " + std::to_string(version) +
                       ", newer than this TorchExam (knows up to " + std::to_string(kSchemaVersion) +
                       "); upgrade TorchExam or use another state directory");
    }
    if (version == kSchemaVersion) {
      exec(db, "COMMIT", "end the migration check");
      return;
    }
    const int number = version + 1;
    const std::string step = "migration " + std::to_string(number) + " of " + db_path.string();
    try {
      exec(db, kMigrations[static_cast<size_t>(version)], step);
      // PRAGMA takes no bound parameters; the value is our own loop counter.
      exec(db, ("PRAGMA user_version = " + std::to_string(number)).c_str(), step);
      exec(db, "COMMIT", step);
    } catch (...) {
      sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
      throw;
    }
  }
}

// ---------------------------------------------------------------------------
// 3. Artifacts

// An artifact file is written durably (fsync'ed, renamed, its folder
// fsync'ed), a new folder made durable in its parent; an I/O failure is a
// StoreError naming the step and the path.
void write_artifact(const fs::path& path, std::string_view bytes) {
  try {
    write_file_atomically(path, bytes, Durability::synced);
  } catch (const std::system_error& e) {
    throw StoreError(std::string("store: ") + e.what());
  }
}

void make_durable_folder(const fs::path& parent, const fs::path& dir) {
  std::error_code ec;
  const bool created = fs::create_directory(dir, ec);
  if (ec) throw StoreError("store: cannot create " + dir.string() + ": " + ec.message());
  if (!created) return;
  try {
    fsync_dir(parent);
  } catch (const std::system_error& e) {
    throw StoreError(std::string("store: ") + e.what());
  }
}

// ---------------------------------------------------------------------------
// 4. Records and the Store

const auto kSessions =
    table("sessions", column("id", &SessionRecord::id), column("environment_dir", &SessionRecord::environment_dir),
          column("workspace", &SessionRecord::workspace), column("mode", &SessionRecord::mode),
          column("started_at_ms", &SessionRecord::started_at_ms), column("duration_ms", &SessionRecord::duration_ms),
          column("paused_total_ms", &SessionRecord::paused_total_ms),
          column("paused_since_ms", &SessionRecord::paused_since_ms), column("state", &SessionRecord::state),
          column("closed_at_ms", &SessionRecord::closed_at_ms));

// The id comes first, so that skipping kIdColumns leaves out the column
// SQLite assigns (and an update matches on).
const auto kSubmissions =
    table("submissions", column("id", &SubmissionRecord::id), column("session_id", &SubmissionRecord::session_id),
          column("task", &SubmissionRecord::task), column("source_hash", &SubmissionRecord::source_hash),
          column("source_name", &SubmissionRecord::source_name),
          column("submitted_at_ms", &SubmissionRecord::submitted_at_ms), column("state", &SubmissionRecord::state),
          column("verdict", &SubmissionRecord::verdict), column("metric", &SubmissionRecord::metric),
          column("score", &SubmissionRecord::score), column("message", &SubmissionRecord::message),
          column("detail", &SubmissionRecord::detail), column("result_json", &SubmissionRecord::result_json),
          column("curve_json", &SubmissionRecord::curve_json),
          column("finished_at_ms", &SubmissionRecord::finished_at_ms), column("attempts", &SubmissionRecord::attempts));
constexpr size_t kIdColumns = 1;

class SqliteStore final : public Store {
 public:
  SqliteStore(Db db, fs::path artifacts) : db_(std::move(db)), artifacts_(std::move(artifacts)) {}

  int schema_version() const override { return user_version(db()); }

  std::unique_ptr<Store> reopen() const override { return Store::open(artifacts_.parent_path()); }

  void put_session(const SessionRecord& s) override {
    Stmt q(db(),
           kSessions.insert() + " ON CONFLICT(id) DO UPDATE SET " + kSessions.list("{0} = excluded.{0}", kIdColumns),
           "put_session");
    kSessions.bind(q, s);
    q.run();
  }

  std::optional<SessionRecord> session(const std::string& id) const override {
    Stmt q(db(), kSessions.select("WHERE id = ?1"), "session");
    q.bind(1, id);
    return kSessions.first(q);
  }

  std::vector<SessionRecord> sessions() const override {
    Stmt q(db(), kSessions.select("ORDER BY started_at_ms, id"), "sessions");
    return kSessions.rows(q);
  }

  int64_t add_submission(const SubmissionRecord& s) override {
    Stmt q(db(), kSubmissions.insert(kIdColumns) + " RETURNING id", "add_submission");
    kSubmissions.bind(q, s, kIdColumns);
    if (!q.step()) fail(db(), "add_submission");
    const int64_t id = q.int64(0);
    q.run();  // finishes the statement, which commits the insert
    return id;
  }

  void update_submission(const SubmissionRecord& s) override { update_submission_row(db(), s); }

  void finish_submission(const SubmissionRecord& s) override { sql::finish_submission(db(), s); }
  std::optional<JudgingRecord> judging(int64_t id) const override { return sql::judging(db(), id); }
  std::vector<JudgingRecord> judgings(int64_t submission_id) const override {
    return sql::judgings(db(), submission_id);
  }
  int64_t add_rejudge(const RejudgeRecord& r, const std::vector<RejudgeItemRecord>& items) override {
    return sql::add_rejudge(db(), r, items);
  }
  std::optional<RejudgeRecord> rejudge(int64_t id) const override { return sql::rejudge(db(), id); }
  std::vector<RejudgeRecord> rejudges() const override { return sql::rejudges(db()); }
  std::vector<RejudgeItemRecord> rejudge_items(int64_t id) const override { return sql::rejudge_items(db(), id); }
  void set_rejudge_state(int64_t id, const std::string& state) override { sql::set_rejudge_state(db(), id, state); }
  void set_rejudge_item_state(int64_t rejudge_id, int64_t submission_id, const std::string& state) override {
    sql::set_rejudge_item_state(db(), rejudge_id, submission_id, state);
  }
  int64_t finish_rejudge_item(int64_t rejudge_id, JudgingRecord j, const std::string& note) override {
    return sql::finish_rejudge_item(db(), rejudge_id, std::move(j), note);
  }
  void apply_rejudge(int64_t id, const std::vector<int64_t>& made_live,
                     const std::vector<SubmissionRecord>& mirrored) override {
    sql::apply_rejudge(db(), id, made_live, mirrored);
  }

  std::optional<SubmissionRecord> submission(int64_t id) const override {
    Stmt q(db(), kSubmissions.select("WHERE id = ?1"), "submission");
    q.bind(1, id);
    return kSubmissions.first(q);
  }

  std::vector<SubmissionRecord> submissions(const std::string& session_id, const std::string& task) const override {
    Stmt q(db(), kSubmissions.select("WHERE session_id = ?1 AND (?2 = '' OR task = ?2) ORDER BY id"), "submissions");
    q.bind(1, session_id).bind(2, task);
    return kSubmissions.rows(q);
  }

  std::vector<SubmissionRecord> unfinished_submissions() const override {
    Stmt q(db(), kSubmissions.select("WHERE state IN ('queued', 'running') ORDER BY id"), "unfinished_submissions");
    return kSubmissions.rows(q);
  }

  void add_events(const std::vector<Event>& events) override {
    if (events.empty()) return;
    Transaction t(db(), "add_events");
    Stmt q(db(), "INSERT INTO events (submission_id, json) VALUES (?1, ?2)", "add_events");
    for (const auto& e : events) {
      q.bind(1, e.submission_id).bind(2, e.json).run();
      q.reset();
    }
    t.commit();
  }

  std::vector<std::string> events(int64_t submission_id) const override {
    Stmt q(db(), "SELECT json FROM events WHERE submission_id = ?1 ORDER BY id", "events");
    q.bind(1, submission_id);
    std::vector<std::string> out;
    while (q.step()) out.push_back(q.text(0));
    return out;
  }

  std::string put_artifact(std::string_view bytes) override {
    std::string hash = sha256_hex(bytes);
    const fs::path path = artifact_path(hash);
    std::error_code ec;
    if (fs::exists(path, ec)) return hash;  // content-addressed: already stored
    make_durable_folder(artifacts_, path.parent_path());
    write_artifact(path, bytes);
    return hash;
  }

  // A malformed hash names no artifact, so it is simply absent.
  std::optional<std::string> get_artifact(const std::string& hash) const override {
    if (!is_sha256_hex(hash)) return std::nullopt;
    const fs::path path = artifact_path(hash);
    std::error_code ec;
    if (!fs::exists(path, ec)) {
      if (ec) throw StoreError("store: cannot look up " + path.string() + ": " + ec.message());
      return std::nullopt;
    }
    std::string bytes;
    try {
      bytes = read_file(path);
    } catch (const std::exception& e) {
      throw StoreError(std::string("store: ") + e.what());
    }
    if (sha256_hex(bytes) != hash)
      throw StoreError("store: the artifact " + path.string() + " is corrupted (its content does not match its hash)");
    return bytes;
  }

  void add_credential(const CredentialRecord& c) override { sql::add_credential(db(), c); }
  std::optional<CredentialRecord> credential(const std::string& selector) const override {
    return sql::credential(db(), selector);
  }
  std::vector<CredentialRecord> credentials() const override { return sql::credentials(db()); }
  int revoke_credentials(const std::string& name_or_selector, int64_t at_ms) override {
    return sql::revoke_credentials(db(), name_or_selector, at_ms);
  }

  fs::path artifact_path(const std::string& hash) const override {
    if (!is_sha256_hex(hash)) throw StoreError("store: not an artifact hash: \"" + hash + "\"");
    return artifacts_ / hash.substr(0, 2) / hash.substr(2);
  }

 private:
  sqlite3* db() const { return db_.get(); }

  Db db_;
  fs::path artifacts_;
};

}  // namespace

void sql::update_submission_row(sqlite3* db, const SubmissionRecord& s) {
  // SET every column but the id to ?1 ... ?15; the id is the last parameter.
  constexpr int kIdParameter = static_cast<int>(decltype(kSubmissions)::kSize - kIdColumns + 1);
  Stmt q(db,
         fmt::format("UPDATE submissions SET {} WHERE id = ?{}", kSubmissions.list("{0} = ?{1}", kIdColumns),
                     kIdParameter),
         "update_submission");
  kSubmissions.bind(q, s, kIdColumns);
  q.bind(kIdParameter, s.id).run();
  if (sqlite3_changes(db) == 0)
    throw StoreError("store: update_submission: no submission with id " + std::to_string(s.id));
}

// ---------------------------------------------------------------------------
// 5. Opening

std::unique_ptr<Store> Store::open(const fs::path& state_dir) {
  const fs::path artifacts = state_dir / "artifacts";
  std::error_code ec;
  fs::create_directories(artifacts, ec);
  if (ec) throw StoreError("store: cannot create " + artifacts.string() + ": " + ec.message());

  const fs::path db_path = state_dir / "torchexam.db";
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(db_path.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  Db db(raw);  // closed on every path, including a failed open
  if (rc != SQLITE_OK) fail(raw, "open " + db_path.string());

  if (sqlite3_busy_timeout(db.get(), 5000) != SQLITE_OK) fail(db.get(), "set busy_timeout");
  {
    Stmt q(db.get(), "PRAGMA journal_mode = WAL", "enable WAL on " + db_path.string());
    const std::string mode = q.step() ? q.text(0) : "";
    if (mode != "wal")
      throw StoreError("store: " + db_path.string() + " refused WAL mode (journal_mode is \"" + mode + "\")");
  }
  exec(db.get(), "PRAGMA synchronous = FULL", "set synchronous");
  exec(db.get(), "PRAGMA foreign_keys = ON", "enable foreign keys");
  migrate(db.get(), db_path);

  return std::make_unique<SqliteStore>(std::move(db), artifacts);
}

}  // namespace torchexam::store
