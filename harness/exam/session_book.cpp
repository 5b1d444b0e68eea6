#include "exam/session_book.hpp"

#include "exam/service_error.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <ctime>
#include <random>

namespace torchexam {
namespace fs = std::filesystem;
using Kind = ServiceError::Kind;
using store::SessionRecord;

int64_t deadline_ms(const SessionRecord& s, int64_t now_ms) {
  int64_t paused = s.paused_total_ms;
  if (s.paused_since_ms) paused += std::max<int64_t>(0, now_ms - *s.paused_since_ms);
  return s.started_at_ms + s.duration_ms + paused;
}

double remaining_seconds(const SessionRecord& s, int64_t now_ms) {
  if (!is_open(state_of(s))) return 0;
  return std::max<double>(0, static_cast<double>(deadline_ms(s, now_ms) - now_ms) / 1000.0);
}

std::string utc_stamp(int64_t ms) {
  const std::time_t t = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%d-%H%M%S", &tm);
  return buf;
}

namespace {

constexpr int kWarnings[] = {1, 10, 30};  // minutes, ascending

std::string random_id() {
  std::random_device rd;
  return fmt::format("{:08x}{:04x}", rd(), rd() & 0xffff);
}

// With `left` seconds to go, the warnings already past are not news.
void skip_past_warnings(Session& s, double left) {
  for (int w : kWarnings)
    if (left <= w * 60.0 && w < s.warned) s.warned = w;
}

}  // namespace

SessionBook::SessionBook(const Clock& clock, store::Store& store, ExamListener& out, WatchFn watch)
    : clock_(clock), db_(store), out_(out), watch_(std::move(watch)) {}

const Session& SessionBook::open(NewSession n) {
  const int64_t now = clock_.now_ms();
  auto s = std::make_unique<Session>();
  s->rec.id = random_id();
  s->rec.environment_dir = n.environment_dir.string();
  s->rec.workspace = n.workspace.string();
  s->rec.mode = n.mode;
  s->rec.started_at_ms = now;
  s->rec.duration_ms = static_cast<int64_t>(n.duration_s * 1000);
  set_state(s->rec, SessionState::running);
  s->env = std::move(n.env);
  s->last_timer_ms = now;
  skip_past_warnings(*s, n.duration_s);
  save(*s);
  if (watch_) s->watch = watch_(*s);
  const std::string id = s->rec.id;
  return *(sessions_[id] = std::move(s));
}

void SessionBook::recover(const LoadFn& load) {
  const int64_t now = clock_.now_ms();
  for (const auto& rec : db_.sessions()) {
    auto s = std::make_unique<Session>();
    s->rec = rec;
    const bool open = is_open(s->state());  // throws for a state this build does not know
    try {
      s->env = std::make_shared<const config::Environment>(load(rec.environment_dir));
    } catch (const std::exception&) {
      // The environment changed or vanished: keep the session's history
      // readable, but it can take no new submissions.
      s->env = std::make_shared<const config::Environment>();
      if (open) end(*s, SessionState::stopped, now);
    }
    skip_past_warnings(*s, remaining_seconds(s->rec, now));
    s->last_timer_ms = now;
    if (watch_ && is_open(s->state())) s->watch = watch_(*s);
    sessions_[rec.id] = std::move(s);
    ++generation_;
  }
}

Session* SessionBook::lookup(const std::string& id) const {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : it->second.get();
}

const Session* SessionBook::find(const std::string& id) const { return lookup(id); }

const Session& SessionBook::get(const std::string& id) const {
  if (const Session* s = find(id)) return *s;
  throw ServiceError(Kind::not_found, "no exam session '" + id + "'");
}

Session& SessionBook::mutable_get(const std::string& id) {
  get(id);  // throws for an unknown id
  return *lookup(id);
}

std::string SessionBook::resolve(const std::string& session, const fs::path& workspace) const {
  if (!session.empty()) return get(session).rec.id;
  const fs::path ws = workspace.empty() ? fs::path() : fs::absolute(workspace).lexically_normal();
  if (!ws.empty())
    for (const auto& [id, s] : sessions_)
      if ((ws == fs::path(s->rec.workspace) || ws.string().rfind(s->rec.workspace + "/", 0) == 0) &&
          is_open(s->state()))
        return id;
  std::vector<std::string> open;
  const SessionRecord* newest = nullptr;
  for (const auto& [id, s] : sessions_) {
    if (is_open(s->state())) open.push_back(id);
    if (!newest || s->rec.started_at_ms >= newest->started_at_ms) newest = &s->rec;
  }
  if (open.size() == 1) return open.front();
  if (open.size() > 1) {
    std::string list;
    for (const auto& id : open) list += (list.empty() ? "" : ", ") + id + " (" + sessions_.at(id)->rec.workspace + ")";
    throw ServiceError(Kind::conflict, "several exam sessions are open: " + list + "; name one with --session");
  }
  if (newest) return newest->id;  // none open: the most recent one, to read its results
  throw ServiceError(Kind::not_found, "no exam session; start one with: torchexam start ENV_DIR --workspace DIR");
}

void SessionBook::check_workspace_free(const fs::path& workspace) const {
  for (const auto& [id, s] : sessions_)
    if (is_open(s->state()) && fs::path(s->rec.workspace) == workspace)
      throw ServiceError(Kind::conflict, "an exam session (" + id + ") is already open in " + workspace.string() +
                                             "; stop it first (torchexam stop)");
}

std::vector<SessionRecord> SessionBook::records() const {
  std::vector<SessionRecord> out;
  for (const auto& [id, s] : sessions_) out.push_back(s->rec);
  return out;
}

const Session& SessionBook::stop(const std::string& id) {
  Session& s = mutable_get(id);
  if (is_open(s.state())) end(s, SessionState::stopped, clock_.now_ms());
  return s;
}

const Session& SessionBook::pause(const std::string& id) {
  Session& s = mutable_get(id);
  if (s.rec.mode == "exam") throw ServiceError(Kind::invalid_state, "an exam-mode session cannot be paused");
  if (s.state() != SessionState::running)
    throw ServiceError(Kind::invalid_state, "the session is " + s.rec.state + ", not running");
  set_state(s.rec, SessionState::paused);
  s.rec.paused_since_ms = clock_.now_ms();
  save(s);
  return s;
}

const Session& SessionBook::resume(const std::string& id) {
  Session& s = mutable_get(id);
  if (s.state() != SessionState::paused)
    throw ServiceError(Kind::invalid_state, "the session is " + s.rec.state + ", not paused");
  s.rec.paused_total_ms += clock_.now_ms() - *s.rec.paused_since_ms;
  s.rec.paused_since_ms.reset();
  set_state(s.rec, SessionState::running);
  save(s);
  return s;
}

const Session& SessionBook::extend(const std::string& id, int64_t ms) {
  if (ms <= 0) throw ServiceError(Kind::invalid_argument, "the extension must be a positive number of seconds");
  Session& s = mutable_get(id);
  const int64_t now = clock_.now_ms();
  if (is_open(s.state()) && remaining_seconds(s.rec, now) <= 0) end(s, SessionState::closed, deadline_ms(s.rec, now));
  if (!is_open(s.state()))
    throw ServiceError(Kind::invalid_state, "the session is " + s.rec.state + "; only an open session can be extended");
  s.rec.duration_ms += ms;
  s.warned = INT_MAX;
  save(s);
  return s;
}

const Session& SessionBook::accepting(const std::string& id) {
  Session& s = mutable_get(id);
  const int64_t now = clock_.now_ms();
  if (is_open(s.state()) && remaining_seconds(s.rec, now) <= 0) end(s, SessionState::closed, deadline_ms(s.rec, now));
  switch (s.state()) {
    case SessionState::running:
    case SessionState::paused: return s;
    case SessionState::closed:
      throw ServiceError(Kind::exam_closed, "the exam closed at " + utc_stamp(*s.rec.closed_at_ms) +
                                                " UTC; submissions made before the deadline are still graded");
    case SessionState::stopped: throw ServiceError(Kind::exam_closed, "this exam session was stopped");
  }
  return s;
}

void SessionBook::tick() {
  const int64_t now = clock_.now_ms();
  for (auto& [id, sp] : sessions_) {
    Session& s = *sp;
    const SessionState state = s.state();
    if (!is_open(state)) continue;
    const double left = remaining_seconds(s.rec, now);
    if (left <= 0 && state == SessionState::running) {
      end(s, SessionState::closed, deadline_ms(s.rec, now));
      continue;
    }
    std::optional<int> warning;
    for (int w : kWarnings) {
      if (left <= w * 60.0 && w < s.warned) {
        warning = w;
        break;
      }
    }
    if (warning) s.warned = *warning;
    if (warning || now - s.last_timer_ms >= 60'000) {
      s.last_timer_ms = now;
      out_.on_timer(s.rec, left, warning);
    }
  }
}

void SessionBook::stop_watching() {
  for (auto& [id, s] : sessions_) s->watch.reset();
}

void SessionBook::save(Session& s) {
  ++generation_;
  db_.put_session(s.rec);
}

// Closed at its deadline or stopped: the time paused so far counts, the
// clock stops, the watch goes.
void SessionBook::end(Session& s, SessionState state, int64_t at_ms) {
  set_state(s.rec, state);
  s.rec.closed_at_ms = at_ms;
  if (s.rec.paused_since_ms) {
    s.rec.paused_total_ms += std::max<int64_t>(0, at_ms - *s.rec.paused_since_ms);
    s.rec.paused_since_ms.reset();
  }
  save(s);
  s.watch.reset();
  out_.on_closed(s.rec);
}

}  // namespace torchexam
