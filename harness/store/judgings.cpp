// judgings.cpp — the judgings and rejudging sets of store.hpp (tables of
// migration 2), on the plumbing of sqlite.hpp. Every call that writes more
// than one row does so in one transaction.
#include "store/sqlite.hpp"

#include <utility>

namespace torchexam::store::sql {
namespace {

// The id comes first, so that skipping one column leaves out the id SQLite assigns.
const auto kJudgings =
    table("judgings", column("id", &JudgingRecord::id), column("submission_id", &JudgingRecord::submission_id),
          column("rejudge_id", &JudgingRecord::rejudge_id), column("live", &JudgingRecord::live),
          column("verdict", &JudgingRecord::verdict), column("metric", &JudgingRecord::metric),
          column("score", &JudgingRecord::score), column("result_json", &JudgingRecord::result_json),
          column("curve_json", &JudgingRecord::curve_json),
          column("finished_at_ms", &JudgingRecord::finished_at_ms));

const auto kRejudges =
    table("rejudges", column("id", &RejudgeRecord::id), column("kind", &RejudgeRecord::kind),
          column("selection", &RejudgeRecord::selection), column("state", &RejudgeRecord::state),
          column("created_at_ms", &RejudgeRecord::created_at_ms), column("reason", &RejudgeRecord::reason));

const auto kItems = table("rejudge_items", column("rejudge_id", &RejudgeItemRecord::rejudge_id),
                          column("submission_id", &RejudgeItemRecord::submission_id),
                          column("old_judging", &RejudgeItemRecord::old_judging),
                          column("new_judging", &RejudgeItemRecord::new_judging),
                          column("state", &RejudgeItemRecord::state), column("note", &RejudgeItemRecord::note));

constexpr size_t kIdColumn = 1;

// Inserts a row of a table whose first column SQLite assigns; returns it.
template <class T, class Record>
int64_t insert_with_id(sqlite3* db, const T& table, const Record& r, std::string_view operation) {
  Stmt q(db, table.insert(kIdColumn) + " RETURNING id", operation);
  table.bind(q, r, kIdColumn);
  if (!q.step()) fail(db, operation);
  const int64_t id = q.int64(0);
  q.run();
  return id;
}

// Runs an UPDATE that must change a row; throws naming `what` otherwise.
void update_one(Stmt& q, sqlite3* db, const std::string& what) {
  q.run();
  if (sqlite3_changes(db) == 0) throw StoreError("store: no " + what);
}

}  // namespace

void finish_submission(sqlite3* db, const SubmissionRecord& s) {
  Transaction t(db, "finish_submission");
  update_submission_row(db, s);
  Stmt off(db, "UPDATE judgings SET live = 0 WHERE submission_id = ?1 AND live = 1", "finish_submission");
  off.bind(1, s.id).run();
  JudgingRecord j;
  j.submission_id = s.id;
  j.live = 1;
  j.verdict = s.verdict;
  j.metric = s.metric;
  j.score = s.score;
  j.result_json = s.result_json;
  j.curve_json = s.curve_json;
  j.finished_at_ms = s.finished_at_ms;
  insert_with_id(db, kJudgings, j, "finish_submission");
  t.commit();
}

std::optional<JudgingRecord> judging(sqlite3* db, int64_t id) {
  Stmt q(db, kJudgings.select("WHERE id = ?1"), "judging");
  q.bind(1, id);
  return kJudgings.first(q);
}

std::vector<JudgingRecord> judgings(sqlite3* db, int64_t submission_id) {
  Stmt q(db, kJudgings.select("WHERE submission_id = ?1 ORDER BY id"), "judgings");
  q.bind(1, submission_id);
  return kJudgings.rows(q);
}

int64_t add_rejudge(sqlite3* db, const RejudgeRecord& r, const std::vector<RejudgeItemRecord>& items) {
  Transaction t(db, "add_rejudge");
  const int64_t id = insert_with_id(db, kRejudges, r, "add_rejudge");
  Stmt q(db, kItems.insert(), "add_rejudge: items");
  for (RejudgeItemRecord item : items) {
    item.rejudge_id = id;
    kItems.bind(q, item);
    q.run();
    q.reset();
  }
  t.commit();
  return id;
}

std::optional<RejudgeRecord> rejudge(sqlite3* db, int64_t id) {
  Stmt q(db, kRejudges.select("WHERE id = ?1"), "rejudge");
  q.bind(1, id);
  return kRejudges.first(q);
}

std::vector<RejudgeRecord> rejudges(sqlite3* db) {
  Stmt q(db, kRejudges.select("ORDER BY id"), "rejudges");
  return kRejudges.rows(q);
}

std::vector<RejudgeItemRecord> rejudge_items(sqlite3* db, int64_t rejudge_id) {
  Stmt q(db, kItems.select("WHERE rejudge_id = ?1 ORDER BY submission_id"), "rejudge_items");
  q.bind(1, rejudge_id);
  return kItems.rows(q);
}

void set_rejudge_state(sqlite3* db, int64_t id, const std::string& state) {
  Stmt q(db, "UPDATE rejudges SET state = ?2 WHERE id = ?1", "set_rejudge_state");
  q.bind(1, id).bind(2, state);
  update_one(q, db, "regrade set " + std::to_string(id));
}

void set_rejudge_item_state(sqlite3* db, int64_t rejudge_id, int64_t submission_id, const std::string& state) {
  Stmt q(db, "UPDATE rejudge_items SET state = ?3 WHERE rejudge_id = ?1 AND submission_id = ?2",
         "set_rejudge_item_state");
  q.bind(1, rejudge_id).bind(2, submission_id).bind(3, state);
  update_one(q, db, "submission " + std::to_string(submission_id) + " in regrade set " + std::to_string(rejudge_id));
}

int64_t finish_rejudge_item(sqlite3* db, int64_t rejudge_id, JudgingRecord j, const std::string& note) {
  Transaction t(db, "finish_rejudge_item");
  j.rejudge_id = rejudge_id;
  j.live = 0;
  const int64_t id = insert_with_id(db, kJudgings, j, "finish_rejudge_item");
  Stmt q(db,
         "UPDATE rejudge_items SET new_judging = ?3, state = 'done', note = ?4 "
         "WHERE rejudge_id = ?1 AND submission_id = ?2",
         "finish_rejudge_item");
  q.bind(1, rejudge_id).bind(2, j.submission_id).bind(3, id).bind(4, note);
  update_one(q, db,
             "submission " + std::to_string(j.submission_id) + " in regrade set " + std::to_string(rejudge_id));
  t.commit();
  return id;
}

void apply_rejudge(sqlite3* db, int64_t id, const std::vector<int64_t>& made_live,
                   const std::vector<SubmissionRecord>& mirrored) {
  Transaction t(db, "apply_rejudge");
  // The old live judging first: the unique index allows one live per submission.
  Stmt off(db,
           "UPDATE judgings SET live = 0 WHERE live = 1 AND submission_id = "
           "(SELECT submission_id FROM judgings WHERE id = ?1)",
           "apply_rejudge: old judging");
  Stmt on(db, "UPDATE judgings SET live = 1 WHERE id = ?1", "apply_rejudge: new judging");
  for (const int64_t judging : made_live) {
    off.bind(1, judging).run();
    off.reset();
    on.bind(1, judging);
    update_one(on, db, "judging " + std::to_string(judging));
    on.reset();
  }
  for (const auto& s : mirrored) update_submission_row(db, s);
  Stmt done(db, "UPDATE rejudges SET state = 'applied' WHERE id = ?1", "apply_rejudge");
  done.bind(1, id);
  update_one(done, db, "regrade set " + std::to_string(id));
  t.commit();
}

}  // namespace torchexam::store::sql
