// sqlite.hpp — the store's SQLite plumbing, shared by its implementation
// files (store.cpp, judgings.cpp) and by nothing else: Db (owns the
// connection), Stmt (a prepared statement with typed bind/column helpers,
// finalized by RAII), fail() (the one place an SQLite error becomes a
// StoreError naming the operation), Transaction (BEGIN IMMEDIATE ... COMMIT,
// rolled back unless committed) and Table (a record described once as its
// table's columns, from which statements, row readers and binders come).
//
// Threads: as the connection's Store (one thread). Errors: StoreError.
#pragma once

#include "store/store.hpp"

#include <sqlite3.h>

#include <fmt/format.h>

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace torchexam::store::sql {

[[noreturn]] inline void fail(sqlite3* db, std::string_view operation) {
  throw StoreError("store: " + std::string(operation) + ": " + (db ? sqlite3_errmsg(db) : "out of memory"));
}

struct DbCloser {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Db = std::unique_ptr<sqlite3, DbCloser>;

// A prepared statement. Parameters are bound by 1-based index, columns read
// by 0-based index, as in the C API. `operation` names it in errors.
class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql, std::string_view operation) : db_(db), op_(operation) {
    if (sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr) != SQLITE_OK) fail(db_, op_);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  Stmt& bind(int i, int64_t v) { return check(sqlite3_bind_int64(stmt_, i, v)); }
  Stmt& bind(int i, int v) { return bind(i, static_cast<int64_t>(v)); }
  Stmt& bind(int i, double v) { return check(sqlite3_bind_double(stmt_, i, v)); }
  Stmt& bind(int i, std::string_view v) {
    return check(sqlite3_bind_text64(stmt_, i, v.data(), v.size(), SQLITE_TRANSIENT, SQLITE_UTF8));
  }
  Stmt& bind(int i, const std::string& v) { return bind(i, std::string_view(v)); }
  template <class T>
  Stmt& bind(int i, const std::optional<T>& v) {
    return v ? bind(i, *v) : check(sqlite3_bind_null(stmt_, i));
  }

  // Steps once: true while a row is available, false when done.
  bool step() {
    switch (sqlite3_step(stmt_)) {
      case SQLITE_ROW:
        return true;
      case SQLITE_DONE:
        return false;
      default:
        fail(db_, op_);
    }
  }
  // Runs a statement that returns no rows.
  void run() {
    while (step()) {
    }
  }
  // Makes the statement ready to run again with new bindings.
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }

  int64_t int64(int col) const { return sqlite3_column_int64(stmt_, col); }
  double real(int col) const { return sqlite3_column_double(stmt_, col); }
  std::string text(int col) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, col));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, col))) : std::string();
  }
  bool null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::optional<int64_t> opt_int64(int col) const { return null(col) ? std::nullopt : std::optional(int64(col)); }
  std::optional<double> opt_real(int col) const { return null(col) ? std::nullopt : std::optional(real(col)); }
  std::optional<std::string> opt_text(int col) const { return null(col) ? std::nullopt : std::optional(text(col)); }

  // Column `col` into `v`, by v's type: what Table::read uses.
  void get(int col, std::string& v) const { v = text(col); }
  void get(int col, int64_t& v) const { v = int64(col); }
  void get(int col, int& v) const { v = static_cast<int>(int64(col)); }
  void get(int col, std::optional<std::string>& v) const { v = opt_text(col); }
  void get(int col, std::optional<int64_t>& v) const { v = opt_int64(col); }
  void get(int col, std::optional<double>& v) const { v = opt_real(col); }

 private:
  Stmt& check(int rc) {
    if (rc != SQLITE_OK) fail(db_, op_);
    return *this;
  }

  sqlite3* db_;
  std::string op_;
  sqlite3_stmt* stmt_ = nullptr;
};

inline void exec(sqlite3* db, const char* sql, std::string_view operation) {
  if (sqlite3_exec(db, sql, nullptr, nullptr, nullptr) != SQLITE_OK) fail(db, operation);
}

inline int user_version(sqlite3* db) {
  Stmt q(db, "PRAGMA user_version", "read the schema version");
  q.step();
  return static_cast<int>(q.int64(0));
}

// One write transaction: BEGIN IMMEDIATE now, COMMIT by commit(), ROLLBACK
// when it goes out of scope uncommitted (an exception on the way).
class Transaction {
 public:
  Transaction(sqlite3* db, std::string_view operation) : db_(db), op_(operation) {
    exec(db_, "BEGIN IMMEDIATE", op_ + ": begin");
  }
  ~Transaction() {
    if (!done_) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
  }
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit() {
    exec(db_, "COMMIT", op_ + ": commit");
    done_ = true;
  }

 private:
  sqlite3* db_;
  std::string op_;
  bool done_ = false;
};

// Each record is described once, as its table: the columns in schema
// order (migration 1), each with the member it holds. Statements' column
// lists, reading a row and binding a record's values all come from it.
template <class Record, class T>
struct Column {
  std::string_view name;
  T Record::*member;
};

template <class Record, class... Ts>
struct Table {
  std::string_view name;
  std::tuple<Column<Record, Ts>...> columns;

  static constexpr size_t kSize = sizeof...(Ts);

  // The column names from the `skip`-th on, each written as `format` says
  // ({0}: the name, {1}: its parameter number, from 1), joined by ", ".
  std::string list(std::string_view format, size_t skip = 0) const {
    std::vector<std::string_view> names;
    std::apply([&](const auto&... c) { (names.push_back(c.name), ...); }, columns);
    std::vector<std::string> items;
    for (size_t i = skip; i < names.size(); ++i)
      items.push_back(fmt::format(fmt::runtime(format), names[i], i - skip + 1));
    return fmt::format("{}", fmt::join(items, ", "));
  }

  // "SELECT <every column> FROM <table> <rest>"
  std::string select(std::string_view rest) const {
    return fmt::format("SELECT {} FROM {} {}", list("{0}"), name, rest);
  }
  // "INSERT INTO <table> (<columns from skip>) VALUES (?1, ...)"
  std::string insert(size_t skip = 0) const {
    return fmt::format("INSERT INTO {} ({}) VALUES ({})", name, list("{0}", skip), list("?{1}", skip));
  }

  // The current row of `q`, a statement made with select().
  Record read(const Stmt& q) const {
    Record r;
    int col = 0;
    std::apply([&](const auto&... c) { (q.get(col++, r.*c.member), ...); }, columns);
    return r;
  }
  // Every row `q` gives; the first alone.
  std::vector<Record> rows(Stmt& q) const {
    std::vector<Record> out;
    while (q.step()) out.push_back(read(q));
    return out;
  }
  std::optional<Record> first(Stmt& q) const {
    if (!q.step()) return std::nullopt;
    return read(q);
  }

  // Binds the record's columns from the `skip`-th on to parameters 1, 2, ...
  void bind(Stmt& q, const Record& r, size_t skip = 0) const {
    size_t index = 0;
    int parameter = 0;
    const auto one = [&](const auto& c) {
      if (index++ >= skip) q.bind(++parameter, r.*c.member);
    };
    std::apply([&](const auto&... c) { (one(c), ...); }, columns);
  }
};

template <class Record, class T>
constexpr Column<Record, T> column(std::string_view name, T Record::*member) {
  return {name, member};
}

template <class Record, class... Ts>
Table<Record, Ts...> table(std::string_view name, Column<Record, Ts>... columns) {
  return {name, {columns...}};
}

// The judgings and rejudging sets (judgings.cpp): what SqliteStore's
// methods of the same names do, on `db`.
void finish_submission(sqlite3* db, const SubmissionRecord& s);
std::optional<JudgingRecord> judging(sqlite3* db, int64_t id);
std::vector<JudgingRecord> judgings(sqlite3* db, int64_t submission_id);
int64_t add_rejudge(sqlite3* db, const RejudgeRecord& r, const std::vector<RejudgeItemRecord>& items);
std::optional<RejudgeRecord> rejudge(sqlite3* db, int64_t id);
std::vector<RejudgeRecord> rejudges(sqlite3* db);
std::vector<RejudgeItemRecord> rejudge_items(sqlite3* db, int64_t rejudge_id);
void set_rejudge_state(sqlite3* db, int64_t id, const std::string& state);
void set_rejudge_item_state(sqlite3* db, int64_t rejudge_id, int64_t submission_id, const std::string& state);
int64_t finish_rejudge_item(sqlite3* db, int64_t rejudge_id, JudgingRecord j, const std::string& note);
void apply_rejudge(sqlite3* db, int64_t id, const std::vector<int64_t>& made_live,
                   const std::vector<SubmissionRecord>& mirrored);
// The proctored server's credentials (credentials.cpp).
void add_credential(sqlite3* db, const CredentialRecord& c);
std::optional<CredentialRecord> credential(sqlite3* db, const std::string& selector);
std::vector<CredentialRecord> credentials(sqlite3* db);
int revoke_credentials(sqlite3* db, const std::string& name_or_selector, int64_t at_ms);
// Updates a submission by id, without a transaction of its own (store.cpp).
void update_submission_row(sqlite3* db, const SubmissionRecord& s);

}  // namespace torchexam::store::sql
