// Rejudging sets (exam/rejudge_book.hpp) through ExamService, with the fake
// grader (a retrain reads "score N" from the stored source, plus a bonus the
// test sets) and a fake rescore: run -> review -> apply, cancel, refusals,
// a restart in the middle, the best score after apply, grading.repeat_score.
#include <doctest/doctest.h>

#include "exam/exam_service.hpp"
#include "grading/rescore.hpp"
#include "service_fixture.hpp"

#include <boost/json.hpp>

#include <fstream>

namespace fs = std::filesystem;
using namespace torchexam;
using test::Fixture;
using test::kEnv;

namespace {

const TaskSummary& task_summary(const ExamSummary& s, const std::string& id) {
  for (const auto& t : s.tasks)
    if (t.id == id) return t;
  throw std::runtime_error("no task " + id + " in the summary");
}

// A finished fashion_mnist submission of `source` ("// score N").
int64_t graded(Fixture& f, const std::string& source) {
  f.write_solution(source);
  const int64_t id = f.service->submit("", "fashion_mnist");
  REQUIRE(f.run_until([&] { return f.service->idle(); }));
  REQUIRE(f.service->submission(id).state == "finished");
  return id;
}

RejudgeSelection of_task(Fixture& f, const std::string& task = "fashion_mnist") {
  RejudgeSelection sel;
  sel.session = f.service->resolve("");
  sel.task = task;
  return sel;
}

bool in_state(Fixture& f, int64_t set, RejudgeState state) {
  return f.run_until([&] { return f.service->rejudge(set).state == state && f.service->idle(); });
}

int live_count(const std::vector<store::JudgingRecord>& js) {
  int n = 0;
  for (const auto& j : js) n += j.live;
  return n;
}

}  // namespace

TEST_SUITE("rejudge") {
  TEST_CASE("a set runs, is reviewed as old/new/delta, and apply makes its judgings live") {
    Fixture f;
    f.start();
    const int64_t a = graded(f, "// score 2");
    const int64_t b = graded(f, "// score 3");
    CHECK(task_summary(f.service->status(""), "fashion_mnist").best_score == 3);
    f.grader.bonus = 1;  // the retrain grades one higher
    const RejudgeSet created = f.service->regrade(RejudgeKind::retrain, of_task(f), "new grader");
    CHECK(created.state == RejudgeState::running);
    CHECK(created.reason == "new grader");
    REQUIRE(in_state(f, created.id, RejudgeState::review));

    const RejudgeSet review = f.service->rejudge(created.id);
    REQUIRE(review.rows.size() == 2);
    CHECK(review.done == 2);
    CHECK(review.changed == 2);
    CHECK(review.rows[0].submission == a);
    CHECK(review.rows[0].before.score == 2);
    REQUIRE(review.rows[0].after);
    CHECK(review.rows[0].after->score == 3);
    CHECK(review.rows[0].delta_score == 1);
    // In review nothing is live yet: the scores and the best stand.
    CHECK(f.service->submission(a).score == 2);
    CHECK(task_summary(f.service->status(""), "fashion_mnist").best_score == 3);
    CHECK(live_count(f.db->judgings(a)) == 1);
    CHECK(f.db->judgings(a).size() == 2);
    CHECK(f.rec.rejudges.back().state == RejudgeState::review);
    CHECK(f.rec.rejudges.back().done == 2);

    const RejudgeSet applied = f.service->apply_rejudge(created.id);
    CHECK(applied.state == RejudgeState::applied);
    CHECK(f.service->submission(a).score == 3);
    CHECK(f.service->submission(b).score == 4);
    const auto judgings = f.db->judgings(a);
    REQUIRE(judgings.size() == 2);  // nothing overwritten
    CHECK(judgings[0].live == 0);
    CHECK(judgings[0].score == 2);
    CHECK(judgings[1].live == 1);
    CHECK(judgings[1].rejudge_id == created.id);
    // The best score follows the live judgings.
    const auto st = f.service->status("");
    CHECK(task_summary(st, "fashion_mnist").best_score == 4);
    CHECK(task_summary(st, "fashion_mnist").best_submission == b);
    CHECK(f.rec.rejudges.back().state == RejudgeState::applied);
    CHECK_THROWS_WITH_AS(f.service->apply_rejudge(created.id), doctest::Contains("applied"), ServiceError);
  }

  TEST_CASE("the best score after apply follows live judgings only, down as well as up") {
    Fixture f;
    f.start();
    const int64_t five = graded(f, "// score 5");
    const int64_t two = graded(f, "// score 2");
    f.grader.bonus = -2;
    RejudgeSelection one;
    one.submission = five;
    const RejudgeSet set = f.service->regrade(RejudgeKind::retrain, one, "");
    REQUIRE(in_state(f, set.id, RejudgeState::review));
    CHECK(task_summary(f.service->status(""), "fashion_mnist").best_score == 5);
    f.service->apply_rejudge(set.id);
    const auto st = f.service->status("");
    CHECK(task_summary(st, "fashion_mnist").best_score == 3);  // 5 is no longer live; the other stays at 2
    CHECK(task_summary(st, "fashion_mnist").best_submission == five);
    CHECK(f.service->submission(two).score == 2);
    CHECK(st.total_score == 3);
  }

  TEST_CASE("cancel from running: the set's judgings stay in the history, never live") {
    Fixture f;
    f.start();
    const int64_t a = graded(f, "// score 2");
    graded(f, "// score 3");
    f.grader.hold = true;
    f.grader.bonus = 2;
    const int started = f.grader.started;
    const RejudgeSet set = f.service->regrade(RejudgeKind::retrain, of_task(f), "");
    REQUIRE(f.run_until([&] { return f.grader.started == started + 1; }));  // one slot: one item runs
    CHECK_THROWS_WITH_AS(f.service->apply_rejudge(set.id), doctest::Contains("still running"), ServiceError);
    const RejudgeSet cancelled = f.service->cancel_rejudge(set.id);
    CHECK(cancelled.state == RejudgeState::cancelled);
    f.grader.hold = false;
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    CHECK(f.grader.started == started + 1);  // the waiting item never ran
    CHECK(f.service->rejudge(set.id).state == RejudgeState::cancelled);
    CHECK(f.service->submission(a).score == 2);
    CHECK(live_count(f.db->judgings(a)) == 1);
    CHECK(f.db->judgings(a).front().live == 1);
    CHECK_THROWS_WITH_AS(f.service->apply_rejudge(set.id), doctest::Contains("only a set in review"), ServiceError);
    CHECK_THROWS_AS(f.service->cancel_rejudge(set.id), ServiceError);
    // Cancelled, it holds nothing: a new set of the same submissions may be made.
    CHECK(f.service->regrade(RejudgeKind::retrain, of_task(f), "").state == RejudgeState::running);
  }

  TEST_CASE("cancel from review keeps the regraded judgings in the history, not live") {
    Fixture f;
    f.start();
    const int64_t a = graded(f, "// score 2");
    f.grader.bonus = 1;
    const RejudgeSet set = f.service->regrade(RejudgeKind::retrain, of_task(f), "");
    REQUIRE(in_state(f, set.id, RejudgeState::review));
    f.service->cancel_rejudge(set.id);
    const auto js = f.db->judgings(a);
    REQUIRE(js.size() == 2);
    CHECK(js[0].live == 1);
    CHECK(js[1].live == 0);
    CHECK(js[1].score == 3);
    CHECK(f.service->submission(a).score == 2);
  }

  TEST_CASE("refusals: an overlapping set names the set; bad selections say what to give") {
    Fixture f;
    f.start();
    const int64_t a = graded(f, "// score 2");
    f.grader.hold = true;
    const RejudgeSet first = f.service->regrade(RejudgeKind::retrain, of_task(f), "");
    RejudgeSelection one;
    one.submission = a;
    const std::string overlap = "already in regrade set " + std::to_string(first.id);
    CHECK_THROWS_WITH_AS(f.service->regrade(RejudgeKind::rescore, one, ""), doctest::Contains(overlap.c_str()),
                         ServiceError);
    CHECK_THROWS_WITH_AS(f.service->regrade(RejudgeKind::rescore, RejudgeSelection{}, ""),
                         doctest::Contains("exactly one of"), ServiceError);
    CHECK_THROWS_WITH_AS(f.service->regrade(RejudgeKind::rescore, of_task(f, "regression"), ""),
                         doctest::Contains("nothing to regrade"), ServiceError);
    CHECK_THROWS_WITH_AS(f.service->regrade(RejudgeKind::rescore, of_task(f, "fashion"), ""),
                         doctest::Contains("did you mean 'fashion_mnist'"), ServiceError);
    RejudgeSelection nowhere;
    nowhere.environment = (f.root / "nowhere").string();
    CHECK_THROWS_WITH_AS(f.service->regrade(RejudgeKind::rescore, nowhere, ""),
                         doctest::Contains("no exam session of the environment"), ServiceError);
    CHECK_THROWS_WITH_AS(f.service->rejudge(999), doctest::Contains("no regrade set 999"), ServiceError);
    f.grader.hold = false;
    f.service->cancel_rejudge(first.id);
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
  }

  TEST_CASE("a daemon stopped while a set runs resumes it after the restart") {
    Fixture f;
    f.start();
    const int64_t a = graded(f, "// score 2");
    const int64_t b = graded(f, "// score 4");
    f.grader.hold = true;
    f.grader.bonus = 1;
    const int started = f.grader.started;
    const RejudgeSet set = f.service->regrade(RejudgeKind::retrain, of_task(f), "");
    REQUIRE(f.run_until([&] { return f.grader.started == started + 1; }));
    CHECK(f.db->rejudge_items(set.id).front().state == "running");
    // The daemon goes away mid-regrade.
    f.service.reset();
    f.db.reset();
    f.grader.hold = false;
    f.db = store::Store::open(f.root / "state");
    CHECK(f.db->rejudge(set.id)->state == "running");
    f.make_service();
    f.service->recover();
    REQUIRE(in_state(f, set.id, RejudgeState::review));
    const RejudgeSet review = f.service->rejudge(set.id);
    REQUIRE(review.rows.size() == 2);
    CHECK(review.rows[0].after->score == 3);
    CHECK(review.rows[1].after->score == 5);
    CHECK(f.db->judgings(a).size() == 2);  // one regrade each, the interrupted one made once
    CHECK(f.db->judgings(b).size() == 2);
    f.service->apply_rejudge(set.id);
    CHECK(f.service->submission(b).score == 5);
  }

  TEST_CASE("a rescore runs the rescore, starts no grading, and names what changed") {
    Fixture f;
    Fingerprint before;
    before.task.ladder = {0.2, 0.4, 0.6, 0.8, 0.9};
    before.task_sha256 = "aaaa";
    f.grader.fingerprint = before;
    std::atomic<int> rescored{0};
    f.rescore = [&](const RescoreRequest& r) {
      ++rescored;
      Rescored out{r.before, {}};
      out.result.score = r.before.score + 1;
      out.result.fingerprint->task.ladder = {0.1, 0.3, 0.5, 0.7, 0.8};
      out.result.fingerprint->task_sha256 = "bbbb";
      return out;
    };
    f.make_service();
    f.start();
    const int64_t a = graded(f, "// score 3");
    const int started = f.grader.started;
    RejudgeSelection one;
    one.submission = a;
    const RejudgeSet set = f.service->regrade(RejudgeKind::rescore, one, "ladder fixed");
    REQUIRE(in_state(f, set.id, RejudgeState::review));
    CHECK(f.grader.started == started);  // no grading ran
    CHECK(rescored == 1);
    const RejudgeSet review = f.service->rejudge(set.id);
    REQUIRE(review.rows.size() == 1);
    CHECK(review.rows[0].delta_score == 1);
    REQUIRE_FALSE(review.rows[0].reasons.empty());
    CHECK(review.rows[0].reasons[0].find("ladder changed") != std::string::npos);
    // A rescore is the same run: the new judging keeps the old curve.
    const auto js = f.db->judgings(a);
    CHECK(js[1].curve_json == js[0].curve_json);
  }

  TEST_CASE("rescore(): a grading with nothing to score again comes back unchanged, saying why") {
    const config::Environment env = config::load_environment(kEnv);
    RescoreRequest req;
    req.environment = &env;
    req.task = env.find_task("regression");
    req.before.verdict = Verdict::compile_error;
    req.before.message = "solution.cpp:3:1: error";
    Rescored r = rescore(req);
    CHECK(r.result == req.before);
    CHECK(r.note.find("without a score") != std::string::npos);
    CHECK(r.note.find("compile_error") != std::string::npos);
    req.before.verdict = Verdict::ok;
    req.before.metric = 1.6;
    req.before.score = 5;
    req.predictions = kEnv / "no-such-predictions.bin";  // a grading stored before predictions were kept
    r = rescore(req);
    CHECK(r.result == req.before);
    CHECK(r.note.find("no stored predictions") != std::string::npos);
  }

  TEST_CASE("grading.repeat_score: best and median take the score over every judging, live the new one") {
    for (const std::string rule : {"live", "best", "median"}) {
      CAPTURE(rule);
      Fixture f;
      f.environment = f.root / "env";
      fs::copy(kEnv, f.environment, fs::copy_options::recursive);
      std::ofstream(f.environment / "environment.yaml", std::ios::app) << "grading: {repeat_score: " << rule << "}\n";
      f.start();
      const int64_t a = graded(f, "// score 4");
      // Two regrades, applied in turn: 4, then 3, then 1.
      for (const int bonus : {-1, -3}) {
        f.grader.bonus = bonus;
        RejudgeSelection one;
        one.submission = a;
        const RejudgeSet set = f.service->regrade(RejudgeKind::retrain, one, "");
        REQUIRE(in_state(f, set.id, RejudgeState::review));
        f.service->apply_rejudge(set.id);
      }
      const int expected = rule == "live" ? 1 : rule == "best" ? 4 : 3;  // the median of 4, 3, 1 is 3
      CHECK(f.service->submission(a).score == expected);
      CHECK(task_summary(f.service->status(""), "fashion_mnist").best_score == expected);
      CHECK(live_count(f.db->judgings(a)) == 1);
      CHECK(f.db->judgings(a).back().live == 1);
    }
  }
}
