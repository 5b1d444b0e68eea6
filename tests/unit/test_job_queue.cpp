// JobQueue with a fake runner: submission order, local and cluster slots,
// cancel, a job that cannot start, restore after a restart, and stop.
#include <doctest/doctest.h>

#include "base/clock.hpp"
#include "exam/job_queue.hpp"
#include "exam/states.hpp"
#include "exam_fakes.hpp"

#include <boost/json.hpp>

using namespace torchexam;
using test::FakeRunner;

namespace {

struct QueueFixture : test::StoreFixture {
  FakeClock clock;
  FakeRunner runner;
  test::NoteRecorder notes;
  std::unique_ptr<JobQueue> queue;
  std::shared_ptr<const config::Environment> local = test::fake_environment();

  explicit QueueFixture(int local_slots = 1) : StoreFixture("job-queue") {
    put_session("s1");
    make_queue(local_slots);
  }
  void make_queue(int local_slots) {
    queue = std::make_unique<JobQueue>(clock, *db, runner, notes, local_slots);
  }
  int64_t add(std::shared_ptr<const config::Environment> env = nullptr) {
    store::SubmissionRecord rec;
    rec.session_id = "s1";
    rec.task = "t";
    rec.source_hash = db->put_artifact("// source");
    rec.source_name = "solution.cpp";
    rec.submitted_at_ms = clock.now_ms();
    return queue->add(rec, {"s1", (root / "ws").string(), env ? env : local}).id;
  }
  SubmissionState state(int64_t id) const { return state_of(submission(id)); }
};

}  // namespace

TEST_SUITE("job_queue") {
  TEST_CASE("jobs start in submission order, as many at once as there are local slots") {
    QueueFixture f(2);
    const int64_t a = f.add(), b = f.add(), c = f.add(), d = f.add();
    CHECK(f.runner.started_ids() == std::vector<int64_t>{a, b});
    CHECK(f.state(a) == SubmissionState::running);
    CHECK(f.runner.of(a).rec.attempts == 1);
    CHECK(f.state(c) == SubmissionState::queued);
    CHECK(f.queue->position(a) == 0);
    CHECK(f.queue->position(c) == 1);
    CHECK(f.queue->position(d) == 2);
    CHECK(f.queue->position(999) == -1);
    REQUIRE(f.notes.progress.size() == 4);  // "queued", with the place each took
    CHECK(f.notes.progress[3].stage == Stage::queued);
    CHECK(f.notes.progress[3].queue_position == 2);

    const auto items = f.queue->items("s1");
    REQUIRE(items.size() == 4);
    CHECK(items[0].state == SubmissionState::running);
    CHECK(items[2].submission == c);
    CHECK(items[2].state == SubmissionState::queued);
    CHECK(items[2].position == 1);
    CHECK(f.queue->items("another").empty());

    f.runner.grade(b, 4);  // the second ends first: the next waiting job takes its slot
    CHECK(f.runner.started_ids() == std::vector<int64_t>{a, b, c});
    const auto rec = f.submission(b);
    CHECK(state_of(rec) == SubmissionState::finished);
    CHECK(rec.verdict == "ok");
    CHECK(rec.score == 4);
    CHECK(boost::json::parse(rec.result_json).at("artifacts").is_object());
    REQUIRE(f.notes.finished.size() == 1);
    CHECK(f.notes.finished[0].id == b);
    REQUIRE(f.runner.prunes.size() == 1);
    CHECK(f.runner.prunes[0] == std::set<int64_t>{a, c, d});  // b's folder may go, the others' stay

    f.runner.grade(a, 1);
    f.runner.grade(c, 2);
    f.runner.grade(d, 3);
    CHECK(f.queue->idle());
  }

  TEST_CASE("cluster jobs take the scheduler's slots, and neither kind holds up the other") {
    QueueFixture f(1);
    const auto cluster = test::fake_environment(3600, 2);
    const int64_t c1 = f.add(cluster), c2 = f.add(cluster), c3 = f.add(cluster);
    const int64_t l1 = f.add(), l2 = f.add();
    CHECK(f.runner.started_ids() == std::vector<int64_t>{c1, c2, l1});
    CHECK(f.runner.of(c1).job.remote());
    CHECK_FALSE(f.runner.of(l1).job.remote());
    f.runner.grade(l1, 5);  // a local slot frees: the local job behind the waiting cluster job starts
    CHECK(f.runner.started_ids() == std::vector<int64_t>{c1, c2, l1, l2});
    f.runner.grade(c1, 5);
    CHECK(f.runner.started_ids() == std::vector<int64_t>{c1, c2, l1, l2, c3});
  }

  TEST_CASE("cancel: a waiting job ends cancelled without starting, a running one is told to stop") {
    QueueFixture f;
    const int64_t running = f.add(), waiting = f.add();
    CHECK(f.queue->cancel(waiting));
    CHECK(f.state(waiting) == SubmissionState::cancelled);
    CHECK(f.submission(waiting).finished_at_ms == f.clock.now_ms());
    REQUIRE(f.notes.finished.size() == 1);
    CHECK(f.runner.started_ids() == std::vector<int64_t>{running});

    CHECK(f.queue->cancel(running));
    CHECK(f.runner.of(running).job.cancel->load());
    CHECK(f.state(running) == SubmissionState::running);  // until its grader has stopped
    f.runner.cancelled(running);
    CHECK(f.state(running) == SubmissionState::cancelled);
    CHECK_FALSE(f.queue->cancel(running));
    CHECK(f.queue->idle());
  }

  TEST_CASE("a job the runner cannot start ends with internal_error and holds no slot") {
    QueueFixture f;
    f.runner.refuse = {1, 3};
    const int64_t refused_at_once = f.add(), first = f.add();
    REQUIRE(refused_at_once == 1);
    const auto rec = f.submission(refused_at_once);
    CHECK(state_of(rec) == SubmissionState::finished);
    CHECK(rec.verdict == "internal_error");
    CHECK(rec.message == "could not start grading: disk full");
    // One refused while the queue starts the jobs behind it: the next one still starts.
    const int64_t refused_later = f.add(), last = f.add();
    REQUIRE(refused_later == 3);
    f.runner.grade(first, 1);
    CHECK(f.state(refused_later) == SubmissionState::finished);
    CHECK(f.runner.started_ids() == std::vector<int64_t>{first, last});
    CHECK(f.queue->position(last) == 0);
  }

  TEST_CASE("after a restart: a job that was running runs again as resumed, one whose session is gone is interrupted") {
    QueueFixture f;
    const int64_t was_running = f.add(), waiting = f.add(), orphan = f.add();
    f.queue.reset();  // the daemon goes away with a job running
    f.runner.started.clear();

    f.make_queue(1);
    f.queue->recover([&](const store::SubmissionRecord& rec) -> std::optional<JobTarget> {
      if (rec.id == orphan) return std::nullopt;
      return JobTarget{"s1", (f.root / "ws").string(), f.local};
    });
    CHECK(f.runner.started_ids() == std::vector<int64_t>{was_running});
    CHECK(f.runner.of(was_running).job.resume);
    CHECK(f.runner.of(was_running).rec.attempts == 2);
    CHECK(f.queue->position(waiting) == 1);
    const auto lost = f.submission(orphan);
    CHECK(state_of(lost) == SubmissionState::interrupted);
    CHECK(lost.message.find("no longer exists") != std::string::npos);

    f.runner.grade(was_running, 3);
    CHECK(f.state(was_running) == SubmissionState::finished);
    CHECK_FALSE(f.runner.of(waiting).job.resume);  // it never started before
  }

  TEST_CASE("stop: a running job the stopping daemon cancels stays queued in the store, and nothing more starts") {
    QueueFixture f;
    const int64_t running = f.add(), waiting = f.add();
    f.queue->stop();
    CHECK(f.runner.of(running).job.cancel->load());
    f.runner.cancelled(running);
    CHECK(f.state(running) == SubmissionState::queued);
    CHECK(f.notes.finished.empty());  // nothing ended: it is graded after the restart
    CHECK(f.runner.started_ids() == std::vector<int64_t>{running});
    CHECK(f.state(waiting) == SubmissionState::queued);
  }
}
