// session_book.hpp — the exam sessions a daemon keeps: their records, their
// deadlines and their timers.
//
// A session is opened (and stored) by open(), comes back after a restart by
// recover(), and ends at its deadline (tick() or a late submission closes
// it) or by stop(). Deadlines are wall-clock times from the Clock, so they
// survive a restart; a pause moves the deadline. Every change is written to
// the store before the call returns. Sessions are never forgotten while the
// book lives: references returned stay valid.
//
// Notes go to the ExamListener given at construction: on_timer every minute
// while open (and once at 30, 10 and 1 minutes left), on_closed when a
// session closes or stops. While a session is open the book holds the watch
// handle WatchFn made for it, and drops it when the session ends.
//
// Threads: the io thread only (the Clock may be read anywhere).
// Failure: ServiceError (not_found, conflict, invalid_state, exam_closed) for
// requests that do not fit the sessions' state, with what to do; store
// errors pass through.
#pragma once

#include "base/clock.hpp"
#include "config/config.hpp"
#include "exam/listener.hpp"
#include "exam/states.hpp"
#include "store/store.hpp"

#include <climits>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace torchexam {

// A session's deadline at `now_ms` (a paused session's moves with the clock)
// and the time left (never below zero; zero once closed or stopped).
int64_t deadline_ms(const store::SessionRecord& s, int64_t now_ms);
double remaining_seconds(const store::SessionRecord& s, int64_t now_ms);

// `ms` (Unix time) as the UTC text messages and file names use: 20300115-083000.
std::string utc_stamp(int64_t ms);

struct Session {
  store::SessionRecord rec;  // as stored; its state through state()
  // Never null; an empty environment when it could not be loaded after a
  // restart (the session is then stopped). Shared with the jobs it queued.
  std::shared_ptr<const config::Environment> env;
  std::shared_ptr<void> watch;  // while open
  int warned = INT_MAX;         // smallest warning (minutes) already sent
  int64_t last_timer_ms = 0;

  SessionState state() const { return state_of(rec); }
};

struct NewSession {
  std::filesystem::path environment_dir;  // absolute
  std::filesystem::path workspace;        // absolute
  std::string mode;                       // "practice" | "exam"
  double duration_s = 0;
  std::shared_ptr<const config::Environment> env;  // not null
};

class SessionBook {
 public:
  // Starts watching an open session's workspace; the handle is dropped when
  // the session ends. May return null (nothing to hold).
  using WatchFn = std::function<std::shared_ptr<void>(const Session&)>;
  // Loads a session's environment after a restart; throws when it cannot.
  using LoadFn = std::function<config::Environment(const std::filesystem::path&)>;

  // `clock`, `store` and `out` must outlive the book.
  SessionBook(const Clock& clock, store::Store& store, ExamListener& out, WatchFn watch = {});

  // A new running session, stored, its clock started now.
  const Session& open(NewSession n);
  // Every stored session, with its timers and watch. A session whose
  // environment `load` refuses is stopped (its history stays readable).
  // Throws ServiceError for a stored state it does not know.
  void recover(const LoadFn& load);

  const Session* find(const std::string& id) const;
  const Session& get(const std::string& id) const;  // throws not_found
  // `session` may be "" when exactly one session is open (or `workspace`
  // lies in an open one's); none open: the newest. Throws otherwise.
  std::string resolve(const std::string& session, const std::filesystem::path& workspace = {}) const;
  // Throws conflict when an open session uses `workspace`.
  void check_workspace_free(const std::filesystem::path& workspace) const;
  std::vector<store::SessionRecord> records() const;

  const Session& stop(const std::string& id);    // an ended session stays as it is
  const Session& pause(const std::string& id);   // practice mode, running only
  const Session& resume(const std::string& id);  // paused only
  // More time for an open session (the examiner's exam/extend): its
  // duration grows by `ms` (> 0), and the warnings already sent may come
  // again. Throws invalid_state for an ended session, invalid_argument for
  // ms <= 0.
  const Session& extend(const std::string& id, int64_t ms);
  // The session, if it takes a submission now: one past its deadline is
  // closed first; a closed or stopped one throws exam_closed.
  const Session& accepting(const std::string& id);

  // Closes sessions whose deadline passed, sends timer notes and warnings.
  void tick();
  // Drops every watch (the daemon is stopping).
  void stop_watching();

  // Moves whenever a session's record changes.
  uint64_t generation() const { return generation_; }

 private:
  Session* lookup(const std::string& id) const;
  Session& mutable_get(const std::string& id);
  void save(Session& s);
  void end(Session& s, SessionState state, int64_t at_ms);

  const Clock& clock_;
  store::Store& db_;
  ExamListener& out_;
  WatchFn watch_;
  std::map<std::string, std::unique_ptr<Session>> sessions_;
  uint64_t generation_ = 0;
};

}  // namespace torchexam
