// SessionBook with a fake clock: the timer at the deadline (jobs submitted
// before it still graded), warnings, pause, stop, and recovery.
#include <doctest/doctest.h>

#include "base/clock.hpp"
#include "exam/job_queue.hpp"
#include "exam/service_error.hpp"
#include "exam/session_book.hpp"
#include "exam_fakes.hpp"

using namespace torchexam;

namespace {

struct BookFixture : test::StoreFixture {
  FakeClock clock;
  test::NoteRecorder notes;
  int watching = 0;  // watch handles alive
  std::unique_ptr<SessionBook> book;

  BookFixture() : StoreFixture("session-book") { make_book(); }
  void make_book() {
    book = std::make_unique<SessionBook>(clock, *db, notes, [this](const Session&) {
      ++watching;
      return std::shared_ptr<void>(nullptr, [this](void*) { --watching; });
    });
  }
  const Session& open(double duration_s, const std::string& mode = "practice") {
    return book->open({root / "env", root / "ws", mode, duration_s, test::fake_environment(duration_s)});
  }
};

}  // namespace

TEST_SUITE("session_book") {
  TEST_CASE("the timer closes a session at its deadline; a job submitted before it is still graded") {
    BookFixture f;
    const std::string id = f.open(3600, "exam").rec.id;
    CHECK(f.watching == 1);
    test::FakeRunner runner;
    JobQueue queue(f.clock, *f.db, runner, f.notes, 1);
    auto submit = [&] {
      const Session& s = f.book->accepting(id);
      store::SubmissionRecord rec;
      rec.session_id = id;
      rec.task = "t";
      rec.source_hash = f.db->put_artifact("// work");
      rec.source_name = "solution.cpp";
      return queue.add(rec, {id, s.rec.workspace, s.env}).id;
    };
    f.clock.advance(3599'000);
    const int64_t running = submit(), waiting = submit();  // one second to go
    f.clock.advance(1000);
    f.book->tick();
    REQUIRE(f.notes.closed.size() == 1);
    CHECK(state_of(f.notes.closed[0]) == SessionState::closed);
    CHECK(f.notes.closed[0].closed_at_ms == f.clock.now_ms());
    CHECK(state_of(*f.db->session(id)) == SessionState::closed);
    CHECK(remaining_seconds(f.book->get(id).rec, f.clock.now_ms()) == 0);
    CHECK(f.watching == 0);
    CHECK_THROWS_WITH_AS(submit(), doctest::Contains("the exam closed at"), ServiceError);
    f.book->tick();
    CHECK(f.notes.closed.size() == 1);  // closed once

    runner.grade(running, 4);
    runner.grade(waiting, 2);  // it was still waiting at the deadline
    CHECK(state_of(*f.db->submission(running)) == SubmissionState::finished);
    CHECK(f.db->submission(waiting)->score == 2);
  }

  TEST_CASE("a submission after the deadline closes the session even before the timer does") {
    BookFixture f;
    const std::string id = f.open(60).rec.id;
    f.clock.advance(61'000);
    CHECK_THROWS_AS(f.book->accepting(id), ServiceError);
    CHECK(f.book->get(id).state() == SessionState::closed);
    CHECK(f.book->get(id).rec.closed_at_ms == f.clock.now_ms() - 1000);  // at the deadline, not now
    CHECK(f.notes.closed.size() == 1);
  }

  TEST_CASE("timer notes every minute, warnings once at 30, 10 and 1 minutes; a short session skips those past") {
    BookFixture f;
    f.open(31 * 60);
    f.book->tick();
    CHECK(f.notes.timer_notes == 0);
    f.clock.advance(60'000);  // 30 minutes left
    f.book->tick();
    f.book->tick();
    CHECK(f.notes.warnings == std::vector<std::optional<int>>{30});
    CHECK(f.notes.timer_notes == 1);
    f.clock.advance(60'000);
    f.book->tick();
    CHECK(f.notes.timer_notes == 2);  // the minute's note
    CHECK(f.notes.warnings.size() == 1);

    BookFixture g;
    g.open(5 * 60);  // under ten minutes from the start
    g.clock.advance(4 * 60'000);
    g.book->tick();
    CHECK(g.notes.warnings == std::vector<std::optional<int>>{1});
  }

  TEST_CASE("a pause moves the deadline; exam mode cannot pause; stopping a paused session counts the pause") {
    BookFixture f;
    const std::string id = f.open(3600).rec.id;
    f.clock.advance(600'000);
    f.book->pause(id);
    CHECK_THROWS_WITH_AS(f.book->pause(id), doctest::Contains("is paused, not running"), ServiceError);
    f.clock.advance(3600'000);
    f.book->tick();  // paused: nothing closes
    CHECK(f.book->get(id).state() == SessionState::paused);
    CHECK(remaining_seconds(f.book->get(id).rec, f.clock.now_ms()) == doctest::Approx(3000));
    f.book->stop(id);
    const auto& rec = f.book->get(id).rec;
    CHECK(rec.paused_total_ms == 3600'000);
    CHECK_FALSE(rec.paused_since_ms);
    CHECK(state_of(*f.db->session(id)) == SessionState::stopped);
    CHECK_THROWS_WITH_AS(f.book->resume(id), doctest::Contains("is stopped, not paused"), ServiceError);

    const std::string exam = f.book->open({f.root / "env", f.root / "ws2", "exam", 60, test::fake_environment()}).rec.id;
    CHECK_THROWS_WITH_AS(f.book->pause(exam), doctest::Contains("cannot be paused"), ServiceError);
  }

  TEST_CASE("resolve: the one open session, the one a workspace lies in, or a clear refusal") {
    BookFixture f;
    CHECK_THROWS_WITH_AS(f.book->resolve(""), doctest::Contains("torchexam start"), ServiceError);
    const std::string a = f.open(60).rec.id;
    CHECK(f.book->resolve("") == a);
    CHECK_THROWS_WITH_AS(f.book->check_workspace_free(f.root / "ws"), doctest::Contains("already open"), ServiceError);
    const std::string b = f.book->open({f.root / "env", f.root / "ws2", "practice", 60, test::fake_environment()}).rec.id;
    CHECK_THROWS_WITH_AS(f.book->resolve(""), doctest::Contains("several exam sessions are open"), ServiceError);
    CHECK(f.book->resolve("", f.root / "ws2" / "t") == b);
    CHECK_THROWS_AS(f.book->resolve("nope"), ServiceError);
  }

  TEST_CASE("after a restart: deadlines hold, a session whose environment is gone is stopped") {
    BookFixture f;
    const std::string kept = f.open(3600).rec.id;
    const std::string lost =
        f.book->open({f.root / "gone", f.root / "ws2", "practice", 3600, test::fake_environment()}).rec.id;
    f.clock.advance(600'000);
    f.book.reset();
    CHECK(f.watching == 0);
    f.clock.advance(600'000);  // while the daemon was down

    f.make_book();
    f.book->recover([&](const std::filesystem::path& dir) -> config::Environment {
      if (dir == f.root / "gone") throw ServiceError(ServiceError::Kind::environment_error, "no environment.yaml");
      return *test::fake_environment();
    });
    CHECK(remaining_seconds(f.book->get(kept).rec, f.clock.now_ms()) == doctest::Approx(2400));
    CHECK(f.book->get(lost).state() == SessionState::stopped);
    CHECK(state_of(*f.db->session(lost)) == SessionState::stopped);
    CHECK(f.watching == 1);  // the open one only
  }

  // The schema refuses such a text; a database written by another build
  // could still hold one.
  TEST_CASE("after a restart: a stored state this build does not know is a clear error") {
    BookFixture f;
    store::SessionRecord s;
    s.id = "from-the-future";
    s.environment_dir = (f.root / "env").string();
    s.workspace = (f.root / "ws").string();
    s.mode = "practice";
    s.state = "frozen";
    test::StoreWithSessions stale(*f.db, {s});
    SessionBook book(f.clock, stale, f.notes);
    CHECK_THROWS_WITH_AS(book.recover([](const std::filesystem::path&) { return config::Environment{}; }),
                         doctest::Contains("exam session from-the-future has the unknown state 'frozen'"),
                         ServiceError);
  }
}
