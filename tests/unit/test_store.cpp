#include <doctest/doctest.h>

#include "store/event_log.hpp"
#include "store/store.hpp"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <thread>

#include "base/hash.hpp"

using namespace torchexam;
using namespace torchexam::store;
namespace fs = std::filesystem;

namespace {

// A fresh state directory per test, removed afterwards.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "torchexam-store-test-XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

// Direct SQLite access, to look at the file behind the Store's back.
struct RawDb {
  sqlite3* db = nullptr;
  explicit RawDb(const fs::path& file) { REQUIRE(sqlite3_open(file.c_str(), &db) == SQLITE_OK); }
  ~RawDb() { sqlite3_close(db); }
  RawDb(const RawDb&) = delete;
  RawDb& operator=(const RawDb&) = delete;
  std::string text(const char* sql) const {
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    std::string out;
    if (sqlite3_step(st) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    return out;
  }
  void exec(const char* sql) const { REQUIRE(sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK); }
};

SessionRecord make_session(const std::string& id, int64_t started = 1000) {
  SessionRecord s;
  s.id = id;
  s.environment_dir = "/envs/mnist";
  s.workspace = "/home/me/work";
  s.mode = "exam";
  s.started_at_ms = started;
  s.duration_ms = 5 * 3600 * 1000;
  s.state = "running";
  return s;
}

SubmissionRecord make_submission(const std::string& session, const std::string& task,
                                 const std::string& state = "queued") {
  SubmissionRecord s;
  s.session_id = session;
  s.task = task;
  s.source_hash = sha256_hex("int main() {}");
  s.source_name = "solution.cpp";
  s.submitted_at_ms = 2000;
  s.state = state;
  return s;
}

void check_same(const SessionRecord& a, const SessionRecord& b) {
  CHECK(a.id == b.id);
  CHECK(a.environment_dir == b.environment_dir);
  CHECK(a.workspace == b.workspace);
  CHECK(a.mode == b.mode);
  CHECK(a.started_at_ms == b.started_at_ms);
  CHECK(a.duration_ms == b.duration_ms);
  CHECK(a.paused_total_ms == b.paused_total_ms);
  CHECK(a.paused_since_ms == b.paused_since_ms);
  CHECK(a.state == b.state);
  CHECK(a.closed_at_ms == b.closed_at_ms);
}

void check_same(const SubmissionRecord& a, const SubmissionRecord& b) {
  CHECK(a.id == b.id);
  CHECK(a.session_id == b.session_id);
  CHECK(a.task == b.task);
  CHECK(a.source_hash == b.source_hash);
  CHECK(a.source_name == b.source_name);
  CHECK(a.submitted_at_ms == b.submitted_at_ms);
  CHECK(a.state == b.state);
  CHECK(a.verdict == b.verdict);
  CHECK(a.metric == b.metric);
  CHECK(a.score == b.score);
  CHECK(a.message == b.message);
  CHECK(a.detail == b.detail);
  CHECK(a.result_json == b.result_json);
  CHECK(a.curve_json == b.curve_json);
  CHECK(a.finished_at_ms == b.finished_at_ms);
  CHECK(a.attempts == b.attempts);
}

std::vector<int64_t> ids(const std::vector<SubmissionRecord>& v) {
  std::vector<int64_t> out;
  for (const auto& s : v) out.push_back(s.id);
  return out;
}

}  // namespace

TEST_SUITE("store") {
  TEST_CASE("a fresh store is migrated to the latest schema, in WAL mode") {
    TempDir dir;
    auto st = Store::open(dir.path / "nested" / "state");
    CHECK(st->schema_version() >= 1);
    CHECK(fs::is_directory(dir.path / "nested" / "state" / "artifacts"));
    RawDb raw(dir.path / "nested" / "state" / "torchexam.db");
    CHECK(raw.text("PRAGMA journal_mode") == "wal");
    CHECK(raw.text("PRAGMA user_version") == std::to_string(st->schema_version()));
  }

  TEST_CASE("sessions round trip, with optional fields null and set") {
    TempDir dir;
    auto st = Store::open(dir.path);
    CHECK_FALSE(st->session("nope"));

    SessionRecord a = make_session("a", 3000);
    st->put_session(a);
    REQUIRE(st->session("a"));
    check_same(*st->session("a"), a);
    CHECK_FALSE(st->session("a")->paused_since_ms);
    CHECK_FALSE(st->session("a")->closed_at_ms);

    SUBCASE("put replaces by id, and optionals can be set and cleared") {
      a.state = "paused";
      a.paused_since_ms = 4000;
      a.paused_total_ms = 250;
      st->put_session(a);
      check_same(*st->session("a"), a);

      a.state = "closed";
      a.paused_since_ms.reset();
      a.closed_at_ms = 9000;
      st->put_session(a);
      check_same(*st->session("a"), a);
      CHECK(st->sessions().size() == 1);
    }
    SUBCASE("sessions() is ordered by start time") {
      st->put_session(make_session("b", 1000));
      st->put_session(make_session("c", 2000));
      std::vector<std::string> order;
      for (const auto& s : st->sessions()) order.push_back(s.id);
      CHECK(order == std::vector<std::string>{"b", "c", "a"});
    }
  }

  TEST_CASE("constraints are enforced and errors name the operation") {
    TempDir dir;
    auto st = Store::open(dir.path);
    SessionRecord bad = make_session("x");
    bad.mode = "holiday";
    CHECK_THROWS_WITH_AS(st->put_session(bad), doctest::Contains("put_session"), StoreError);
    CHECK_THROWS_WITH_AS(st->add_submission(make_submission("no-such-session", "t1")), doctest::Contains("FOREIGN KEY"),
                         StoreError);
  }

  TEST_CASE("submissions round trip and update") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s"));
    CHECK_FALSE(st->submission(1));

    SubmissionRecord s = make_submission("s", "t1");
    s.id = st->add_submission(s);
    CHECK(s.id > 0);
    REQUIRE(st->submission(s.id));
    check_same(*st->submission(s.id), s);
    CHECK_FALSE(st->submission(s.id)->verdict);
    CHECK_FALSE(st->submission(s.id)->metric);
    CHECK(st->submission(s.id)->result_json == "{}");
    CHECK(st->submission(s.id)->curve_json == "[]");

    s.state = "finished";
    s.verdict = "ok";
    s.metric = 0.9875;
    s.score = 85;
    s.message = "accuracy 98.75%";
    s.detail = "line 1\nline 2 \"quoted\" 'single' é";
    s.result_json = R"({"timings":{"build_ms":1200}})";
    s.curve_json = R"([{"epoch":1,"loss":0.3}])";
    s.finished_at_ms = 5000;
    s.attempts = 2;
    st->update_submission(s);
    check_same(*st->submission(s.id), s);

    s.metric.reset();
    s.verdict.reset();
    s.finished_at_ms.reset();
    st->update_submission(s);
    check_same(*st->submission(s.id), s);
  }

  TEST_CASE("updating an absent submission throws") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s"));
    SubmissionRecord s = make_submission("s", "t1");
    s.id = 42;
    CHECK_THROWS_WITH_AS(st->update_submission(s), doctest::Contains("no submission with id 42"), StoreError);
    CHECK_FALSE(st->submission(42));
  }

  TEST_CASE("submissions() filters by session and task, ordered by id; unfinished_submissions()") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s1"));
    st->put_session(make_session("s2"));
    const int64_t a = st->add_submission(make_submission("s1", "t1", "finished"));
    const int64_t b = st->add_submission(make_submission("s2", "t1", "running"));
    const int64_t c = st->add_submission(make_submission("s1", "t2", "queued"));
    const int64_t d = st->add_submission(make_submission("s1", "t1", "cancelled"));
    const int64_t e = st->add_submission(make_submission("s1", "t1", "running"));
    const int64_t f = st->add_submission(make_submission("s2", "t2", "interrupted"));
    CHECK(a < b);
    CHECK(b < c);

    CHECK(ids(st->submissions("s1")) == std::vector<int64_t>{a, c, d, e});
    CHECK(ids(st->submissions("s1", "t1")) == std::vector<int64_t>{a, d, e});
    CHECK(ids(st->submissions("s2", "t2")) == std::vector<int64_t>{f});
    CHECK(st->submissions("s1", "t9").empty());
    CHECK(st->submissions("nobody").empty());
    CHECK(ids(st->unfinished_submissions()) == std::vector<int64_t>{b, c, e});
  }

  TEST_CASE("events are kept per submission, in order") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s"));
    const int64_t x = st->add_submission(make_submission("s", "t1"));
    const int64_t y = st->add_submission(make_submission("s", "t1"));
    CHECK(st->events(x).empty());
    st->add_events({{x, R"({"epoch":1})"}});
    st->add_events({{y, R"({"other":true})"}});
    st->add_events({{x, R"({"epoch":2})"}});
    st->add_events({{x, R"({"epoch":3})"}});
    CHECK(st->events(x) == std::vector<std::string>{R"({"epoch":1})", R"({"epoch":2})", R"({"epoch":3})"});
    CHECK(st->events(y) == std::vector<std::string>{R"({"other":true})"});
    CHECK_THROWS_AS(st->add_events({{999, "{}"}}), StoreError);  // foreign key
  }

  TEST_CASE("add_events writes a batch in one transaction: all of it, or none when one row fails") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s"));
    const int64_t x = st->add_submission(make_submission("s", "t1"));
    st->add_events({{x, R"({"epoch":1})"}, {x, R"({"epoch":2})"}});
    CHECK(st->events(x) == std::vector<std::string>{R"({"epoch":1})", R"({"epoch":2})"});
    // The second row breaks the foreign key: the first is not kept either,
    // and the connection is usable afterwards.
    CHECK_THROWS_AS(st->add_events({{x, R"({"epoch":3})"}, {999, "{}"}}), StoreError);
    CHECK(st->events(x).size() == 2);
    st->add_events({});
    st->add_events({{x, R"({"epoch":4})"}});
    CHECK(st->events(x).back() == R"({"epoch":4})");
  }

  TEST_CASE("reopen() is another connection to the same database") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s"));
    auto other = st->reopen();
    const int64_t x = other->add_submission(make_submission("s", "t1"));
    REQUIRE(st->submission(x));
    CHECK(st->submission(x)->task == "t1");
    CHECK(other->schema_version() == st->schema_version());
  }

  TEST_CASE("the event log: appends from several threads, each thread's events in order, all there after flush") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s"));
    const int64_t a = st->add_submission(make_submission("s", "t1"));
    const int64_t b = st->add_submission(make_submission("s", "t2"));
    EventLog log(*st);
    auto writer = [&log](int64_t id, int n) {
      for (int i = 0; i < n; ++i) log.append(id, "{\"i\":" + std::to_string(i) + "}");
    };
    std::thread ta(writer, a, 300), tb(writer, b, 200);
    ta.join();
    tb.join();
    log.flush();
    const auto ea = st->events(a), eb = st->events(b);
    REQUIRE(ea.size() == 300);
    REQUIRE(eb.size() == 200);
    for (int i = 0; i < 300; ++i) CHECK(ea[static_cast<size_t>(i)] == "{\"i\":" + std::to_string(i) + "}");
    for (int i = 0; i < 200; ++i) CHECK(eb[static_cast<size_t>(i)] == "{\"i\":" + std::to_string(i) + "}");
    CHECK(log.last_error().empty());
  }

  TEST_CASE("the event log: a failed batch is reported and later ones are still written; the destructor writes "
            "what is queued") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s"));
    const int64_t a = st->add_submission(make_submission("s", "t1"));
    {
      EventLog log(*st);
      log.append(999, "{}");  // no such submission: the batch fails
      log.flush();
      CHECK(log.last_error().find("add_events") != std::string::npos);
      log.append(a, R"({"after":1})");
      log.append(a, R"({"after":2})");
    }  // no flush: the destructor commits
    CHECK(st->events(a) == std::vector<std::string>{R"({"after":1})", R"({"after":2})"});
  }

  TEST_CASE("artifacts are stored once by content and verified on read") {
    TempDir dir;
    auto st = Store::open(dir.path);
    const std::string bytes = std::string("binary\0data\xff", 12);
    const std::string h = st->put_artifact(bytes);
    CHECK(h == sha256_hex(bytes));
    CHECK(st->put_artifact(bytes) == h);
    CHECK(st->artifact_path(h) == dir.path / "artifacts" / h.substr(0, 2) / h.substr(2));
    CHECK(fs::is_regular_file(st->artifact_path(h)));

    // One file in its folder: no temporary files left behind.
    int files = 0;
    for (const auto& entry : fs::recursive_directory_iterator(dir.path / "artifacts"))
      files += entry.is_regular_file() ? 1 : 0;
    CHECK(files == 1);
    CHECK(st->get_artifact(h) == bytes);

    const std::string empty = st->put_artifact("");
    CHECK(st->get_artifact(empty) == std::string());

    SUBCASE("unknown and malformed hashes") {
      CHECK_FALSE(st->get_artifact(sha256_hex("never stored")));
      CHECK_FALSE(st->get_artifact("../../etc/passwd"));
      CHECK_THROWS_AS(st->artifact_path("../../etc/passwd"), StoreError);
      CHECK_THROWS_AS(st->artifact_path(std::string(64, 'A')), StoreError);
    }
    SUBCASE("a corrupted artifact is detected") {
      const fs::path path = st->artifact_path(h);
      { std::ofstream(path, std::ios::binary | std::ios::trunc) << "tampered"; }
      CHECK_THROWS_WITH_AS(st->get_artifact(h), doctest::Contains(path.c_str()), StoreError);
    }
  }

  TEST_CASE("reopening the store keeps everything") {
    TempDir dir;
    SessionRecord sess = make_session("s");
    sess.closed_at_ms = 77;
    SubmissionRecord sub = make_submission("s", "t1", "finished");
    sub.metric = 0.5;
    std::string h;
    {
      auto st = Store::open(dir.path);
      st->put_session(sess);
      sub.id = st->add_submission(sub);
      st->add_events({{sub.id, "{}"}});
      h = st->put_artifact("checkpoint");
    }
    auto st = Store::open(dir.path);
    REQUIRE(st->session("s"));
    check_same(*st->session("s"), sess);
    REQUIRE(st->submission(sub.id));
    check_same(*st->submission(sub.id), sub);
    CHECK(st->events(sub.id) == std::vector<std::string>{"{}"});
    CHECK(st->get_artifact(h) == "checkpoint");
    // New ids continue after the old ones.
    CHECK(st->add_submission(sub) > sub.id);
  }

  TEST_CASE("a database newer than this build is refused") {
    TempDir dir;
    {
      RawDb raw(dir.path / "torchexam.db");
      raw.exec("PRAGMA user_version = 999");
    }
    CHECK_THROWS_WITH_AS(Store::open(dir.path), doctest::Contains("schema version 999, newer than"), StoreError);
    RawDb raw(dir.path / "torchexam.db");
    CHECK(raw.text("PRAGMA user_version") == "999");
  }

  TEST_CASE("a failed migration names itself and is rolled back") {
    TempDir dir;
    {
      RawDb raw(dir.path / "torchexam.db");
      raw.exec("CREATE TABLE events (x INTEGER)");  // collides with migration 1
    }
    CHECK_THROWS_WITH_AS(Store::open(dir.path), doctest::Contains("migration 1"), StoreError);
    RawDb raw(dir.path / "torchexam.db");
    CHECK(raw.text("PRAGMA user_version") == "0");
    CHECK(raw.text("SELECT count(*) FROM sqlite_schema WHERE name = 'sessions'") == "0");
  }

  TEST_CASE("migration 2 makes each finished submission's grading its live judging") {
    TempDir dir;
    int64_t finished = 0, queued = 0;
    {
      // A database as migration 1 left it: a finished and a queued submission.
      auto st = Store::open(dir.path);
      st->put_session(make_session("s1"));
      auto f = make_submission("s1", "fashion_mnist", "finished");
      f.verdict = "ok";
      f.metric = 0.85;
      f.score = 4;
      f.result_json = R"({"verdict":"ok","score":4})";
      f.curve_json = R"([{"epoch":1,"loss":0.5,"elapsed_s":1}])";
      f.finished_at_ms = 3000;
      finished = st->add_submission(f);
      queued = st->add_submission(make_submission("s1", "fashion_mnist"));
    }
    {
      RawDb raw(dir.path / "torchexam.db");
      raw.exec(
          "DROP TABLE audit; DROP TABLE credentials; DROP TABLE rejudge_items; DROP TABLE judgings; DROP TABLE rejudges; "
          "PRAGMA user_version = 1");
    }
    auto st = Store::open(dir.path);
    CHECK(st->schema_version() == 3);
    const auto js = st->judgings(finished);
    REQUIRE(js.size() == 1);
    CHECK(js[0].live == 1);
    CHECK_FALSE(js[0].rejudge_id);
    CHECK(js[0].verdict == "ok");
    CHECK(js[0].metric == 0.85);
    CHECK(js[0].score == 4);
    CHECK(js[0].result_json == R"({"verdict":"ok","score":4})");
    CHECK(js[0].curve_json == R"([{"epoch":1,"loss":0.5,"elapsed_s":1}])");
    CHECK(js[0].finished_at_ms == 3000);
    CHECK(st->judgings(queued).empty());
  }

  TEST_CASE("every grading is a judging; a set's judging goes live only when applied, one live at a time") {
    TempDir dir;
    auto st = Store::open(dir.path);
    st->put_session(make_session("s1"));
    auto sub = make_submission("s1", "regression", "running");
    sub.id = st->add_submission(sub);
    sub.state = "finished";
    sub.verdict = "ok";
    sub.score = 3;
    st->finish_submission(sub);
    auto js = st->judgings(sub.id);
    REQUIRE(js.size() == 1);
    CHECK(js[0].live == 1);
    CHECK(st->submission(sub.id)->state == "finished");

    RejudgeRecord r{0, "rescore", R"({"submission":1})", "running", 5000, "ladder"};
    const int64_t set = st->add_rejudge(r, {{0, sub.id, js[0].id, std::nullopt, "queued", ""}});
    auto items = st->rejudge_items(set);
    REQUIRE(items.size() == 1);
    CHECK(items[0].rejudge_id == set);
    CHECK(st->rejudge(set)->reason == "ladder");
    st->set_rejudge_item_state(set, sub.id, "running");
    JudgingRecord again;
    again.submission_id = sub.id;
    again.verdict = "ok";
    again.score = 5;
    const int64_t j2 = st->finish_rejudge_item(set, again, "");
    items = st->rejudge_items(set);
    CHECK(items[0].state == "done");
    CHECK(items[0].new_judging == j2);
    CHECK(st->judging(j2)->live == 0);
    CHECK(st->judging(j2)->rejudge_id == set);
    CHECK_THROWS_AS(st->set_rejudge_state(999, "review"), StoreError);

    sub.score = 5;
    st->apply_rejudge(set, {j2}, {sub});
    CHECK(st->rejudge(set)->state == "applied");
    CHECK(st->judging(js[0].id)->live == 0);
    CHECK(st->judging(j2)->live == 1);
    CHECK(st->submission(sub.id)->score == 5);
    // The schema holds one live judging per submission.
    RawDb raw(dir.path / "torchexam.db");
    CHECK(sqlite3_exec(raw.db, ("UPDATE judgings SET live = 1 WHERE id = " + std::to_string(js[0].id)).c_str(),
                       nullptr, nullptr, nullptr) != SQLITE_OK);
  }

  TEST_CASE("a file that is not a database is refused") {
    TempDir dir;
    { std::ofstream(dir.path / "torchexam.db") << std::string(4096, 'x'); }
    CHECK_THROWS_AS(Store::open(dir.path), StoreError);
  }

  TEST_CASE("a submission survives the process dying without destructors") {
    TempDir dir;
    Store::open(dir.path)->put_session(make_session("s"));  // opened and closed before fork

    const pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Everything happens inside the try so that _exit runs while the Store
      // is still open: no destructor, no sqlite3_close, no checkpoint.
      try {
        auto st = Store::open(dir.path);
        SubmissionRecord s = make_submission("s", "crashy");
        s.id = st->add_submission(s);
        s.state = "running";
        s.attempts = 1;
        st->update_submission(s);
        ::_exit(s.id == 1 ? 0 : 2);
      } catch (...) {
        ::_exit(3);
      }
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) == 0);
    // The commit lives only in the write-ahead log; reopening must recover it.
    CHECK(fs::file_size(dir.path / "torchexam.db-wal") > 0);

    auto st = Store::open(dir.path);
    auto subs = st->submissions("s", "crashy");
    REQUIRE(subs.size() == 1);
    CHECK(subs[0].state == "running");
    CHECK(subs[0].attempts == 1);
    CHECK(ids(st->unfinished_submissions()) == std::vector<int64_t>{subs[0].id});
  }
}
