// store.hpp — the daemon's durable state: SQLite in WAL mode plus a
// content-addressed artifact folder, both under the state directory.
//
//   <state>/torchexam.db          sessions, submissions, events, judgings and
//                                 rejudging sets (schema versioned)
//   <state>/artifacts/ab/cdef...  sources, checkpoints, logs, by SHA-256
//
// Durability: every write is its own transaction (or one explicit
// transaction), committed before the call returns, so a daemon killed at any
// moment restarts with everything that any call had returned from. Artifacts
// are written to a temporary file, fsync'ed and renamed into place.
//
// Schema: versioned with PRAGMA user_version; open() applies every migration
// newer than the file's version, in one transaction each. A database newer
// than this build is refused with a message naming both versions.
//
// Threads: one Store per thread (the daemon's io thread has one, its EventLog
// another, made with reopen()).
// Errors: StoreError with the SQLite message and the statement that failed.
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::store {

class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct SessionRecord {
  std::string id;               // unique, chosen by the caller
  std::string environment_dir;  // absolute
  std::string workspace;        // absolute
  std::string mode;             // "practice" | "exam"
  int64_t started_at_ms = 0;    // Unix time, milliseconds
  int64_t duration_ms = 0;
  int64_t paused_total_ms = 0;              // time spent paused before paused_since
  std::optional<int64_t> paused_since_ms;   // set while paused
  std::string state;                        // "running" | "paused" | "closed" | "stopped"
  std::optional<int64_t> closed_at_ms;
};

struct SubmissionRecord {
  int64_t id = 0;  // assigned by add_submission
  std::string session_id;
  std::string task;
  std::string source_hash;  // artifact hash of the snapshot
  std::string source_name;  // e.g. "solution.cpp" or "model.pt"
  int64_t submitted_at_ms = 0;
  std::string state;  // "queued" | "running" | "finished" | "cancelled" | "interrupted"
  std::optional<std::string> verdict;
  std::optional<double> metric;
  int score = 0;
  std::string message;
  std::string detail;
  std::string result_json = "{}";  // the whole grade result (timings, diagnostics, log)
  std::string curve_json = "[]";   // training curve, one object per epoch
  std::optional<int64_t> finished_at_ms;
  int attempts = 0;  // how many times grading started (a re-run after a crash counts)
};

// One grading of a submission (docs/rejudging.md). A submission has one
// judging per grading: its own (rejudge_id empty) and one per regrade.
// Exactly one judging of a finished submission is live; the submission's
// verdict, metric, score, message, detail, result and curve mirror it.
struct JudgingRecord {
  int64_t id = 0;  // assigned by the store
  int64_t submission_id = 0;
  std::optional<int64_t> rejudge_id;  // the set that made it; empty: the submission's own grading
  int live = 0;                       // 1 for the live judging, else 0
  std::optional<std::string> verdict;
  std::optional<double> metric;
  int score = 0;
  std::string result_json = "{}";  // a GradeRecord, with its fingerprint
  std::string curve_json = "[]";
  std::optional<int64_t> finished_at_ms;
};

// A rejudging set: what it regrades, how, and where it stands.
struct RejudgeRecord {
  int64_t id = 0;  // assigned by add_rejudge
  std::string kind;              // "rescore" | "retrain"
  std::string selection = "{}";  // JSON: what the operator selected
  std::string state;             // "running" | "review" | "applied" | "cancelled"
  int64_t created_at_ms = 0;
  std::string reason;            // what the operator said it is for
};

// One submission of a set.
struct RejudgeItemRecord {
  int64_t rejudge_id = 0;
  int64_t submission_id = 0;
  int64_t old_judging = 0;             // the live judging when the set was made
  std::optional<int64_t> new_judging;  // once regraded
  std::string state;                   // "queued" | "running" | "done"
  std::string note;                    // why the new judging repeats the old one ("" when it does not)
};

// A token the proctored server issued (daemon/credentials.hpp): who it is
// for and what it may do; the token's secret is stored only as its hash.
struct CredentialRecord {
  std::string selector;       // the token's public part, unique: how a login finds its row
  std::string name;           // the candidate's or examiner's name
  std::string role;           // "candidate" | "examiner"
  std::string environment;    // a candidate's exam environment ("" : any installed one)
  std::string secret_sha256;  // SHA-256 hex of the token's secret part
  int64_t created_at_ms = 0;
  std::optional<int64_t> expires_at_ms;  // none: does not expire
  std::optional<int64_t> revoked_at_ms;  // set once revoked
};

class Store {
 public:
  // Opens or creates <state_dir>/torchexam.db (and the artifacts folder),
  // enables WAL and foreign keys, migrates. Throws StoreError.
  static std::unique_ptr<Store> open(const std::filesystem::path& state_dir);
  virtual ~Store() = default;

  virtual int schema_version() const = 0;

  // Another connection to the same database and artifacts, for another
  // thread (see Threads above). Throws StoreError.
  virtual std::unique_ptr<Store> reopen() const = 0;

  // Sessions: put inserts or replaces by id.
  virtual void put_session(const SessionRecord& s) = 0;
  virtual std::optional<SessionRecord> session(const std::string& id) const = 0;
  virtual std::vector<SessionRecord> sessions() const = 0;  // ordered by started_at_ms

  // Submissions.
  virtual int64_t add_submission(const SubmissionRecord& s) = 0;  // returns the new id
  virtual void update_submission(const SubmissionRecord& s) = 0;  // by id; throws if absent
  virtual std::optional<SubmissionRecord> submission(int64_t id) const = 0;
  // Of one session, optionally one task, ordered by id.
  virtual std::vector<SubmissionRecord> submissions(const std::string& session_id,
                                                    const std::string& task = "") const = 0;
  // Every submission in state "queued" or "running", ordered by id.
  virtual std::vector<SubmissionRecord> unfinished_submissions() const = 0;

  // A graded submission: `s` (state "finished") is stored and a live
  // judging made of it, every other judging of it no longer live, in one
  // transaction (the way every grading is recorded).
  virtual void finish_submission(const SubmissionRecord& s) = 0;
  virtual std::optional<JudgingRecord> judging(int64_t id) const = 0;
  // Every judging of a submission, oldest first.
  virtual std::vector<JudgingRecord> judgings(int64_t submission_id) const = 0;

  // Rejudging sets. add_rejudge stores the set and its items (their
  // rejudge_id is set to the new id) in one transaction and returns the id.
  virtual int64_t add_rejudge(const RejudgeRecord& r, const std::vector<RejudgeItemRecord>& items) = 0;
  virtual std::optional<RejudgeRecord> rejudge(int64_t id) const = 0;
  virtual std::vector<RejudgeRecord> rejudges() const = 0;  // ordered by id
  virtual std::vector<RejudgeItemRecord> rejudge_items(int64_t rejudge_id) const = 0;  // by submission
  // Throws when the set or item does not exist.
  virtual void set_rejudge_state(int64_t id, const std::string& state) = 0;
  virtual void set_rejudge_item_state(int64_t rejudge_id, int64_t submission_id, const std::string& state) = 0;
  // A regraded item: `j` stored (not live, made by the set), the item done
  // with it and `note`, in one transaction; returns the judging's id.
  virtual int64_t finish_rejudge_item(int64_t rejudge_id, JudgingRecord j, const std::string& note) = 0;
  // Applies a set in one transaction: each judging of `made_live` becomes
  // live and the one live before it (of its submission) not, each of
  // `mirrored` (the submissions, their columns now those of the live
  // judging) is updated, and the set's state becomes "applied".
  virtual void apply_rejudge(int64_t id, const std::vector<int64_t>& made_live,
                             const std::vector<SubmissionRecord>& mirrored) = 0;

  // Events of submissions (progress lines, as JSON text), appended in one
  // transaction (all or none); events() gives a submission's in order.
  struct Event {
    int64_t submission_id = 0;
    std::string json;
  };
  virtual void add_events(const std::vector<Event>& events) = 0;
  virtual std::vector<std::string> events(int64_t submission_id) const = 0;

  // Credentials of the proctored server. add_credential throws when the
  // selector exists; revoke_credentials marks every unrevoked credential
  // whose name or selector is `name_or_selector` revoked at `at_ms` and
  // returns how many it marked.
  virtual void add_credential(const CredentialRecord& c) = 0;
  virtual std::optional<CredentialRecord> credential(const std::string& selector) const = 0;
  virtual std::vector<CredentialRecord> credentials() const = 0;  // by name, then creation
  virtual int revoke_credentials(const std::string& name_or_selector, int64_t at_ms) = 0;

  // Artifacts by content: returns the SHA-256 hex of `bytes`; storing the same
  // content twice is a no-op.
  virtual std::string put_artifact(std::string_view bytes) = 0;
  virtual std::optional<std::string> get_artifact(const std::string& hash) const = 0;
  virtual std::filesystem::path artifact_path(const std::string& hash) const = 0;
};

}  // namespace torchexam::store
