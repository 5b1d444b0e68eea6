// Session and submission states and grading stages: the one place that names them.
#include <doctest/doctest.h>

#include "exam/report_visibility.hpp"
#include "exam/service_error.hpp"
#include "exam/states.hpp"
#include "exam/status.hpp"
#include "exam_fakes.hpp"

#include <boost/json.hpp>

using namespace torchexam;

TEST_SUITE("exam_states") {
  TEST_CASE("every session state goes to its stored text and back") {
    for (auto s : {SessionState::running, SessionState::paused, SessionState::closed, SessionState::stopped}) {
      CAPTURE(to_string(s));
      CHECK(parse_session_state(to_string(s)) == s);
      store::SessionRecord r;
      set_state(r, s);
      CHECK(r.state == to_string(s));
      CHECK(state_of(r) == s);
    }
    CHECK(to_string(SessionState::closed) == "closed");  // the store's and the protocol's text
    CHECK(is_open(SessionState::paused));
    CHECK_FALSE(is_open(SessionState::closed));
    CHECK_FALSE(parse_session_state("Running"));
    CHECK_FALSE(parse_session_state(""));
  }

  TEST_CASE("every submission state goes to its stored text and back") {
    for (auto s : {SubmissionState::queued, SubmissionState::running, SubmissionState::finished,
                   SubmissionState::cancelled, SubmissionState::interrupted}) {
      CAPTURE(to_string(s));
      CHECK(parse_submission_state(to_string(s)) == s);
      store::SubmissionRecord r;
      set_state(r, s);
      CHECK(state_of(r) == s);
    }
    CHECK(to_string(SubmissionState::interrupted) == "interrupted");
    CHECK_FALSE(parse_submission_state("done"));
  }

  TEST_CASE("every session mode goes to its stored text and back; an unknown one is refused") {
    for (auto m : {SessionMode::practice, SessionMode::exam}) {
      CAPTURE(to_string(m));
      CHECK(parse_session_mode(to_string(m)) == m);
      store::SessionRecord r;
      r.mode = std::string(to_string(m));
      CHECK(mode_of(r) == m);
    }
    store::SessionRecord odd;
    odd.id = "s1";
    odd.mode = "proctored";
    CHECK_THROWS_WITH_AS(mode_of(odd), doctest::Contains("exam session s1 has the unknown mode 'proctored'"),
                         ServiceError);
  }

  TEST_CASE("task diagnostics: practice shows them, an exam hides them until it is over, the environment decides") {
    config::Environment env;  // report.diagnostics unset: the mode decides
    CHECK(diagnostics_visible(env, SessionMode::practice, false));
    CHECK(diagnostics_visible(env, SessionMode::practice, true));
    CHECK_FALSE(diagnostics_visible(env, SessionMode::exam, false));
    CHECK(diagnostics_visible(env, SessionMode::exam, true));
    env.report.diagnostics = config::Report::Diagnostics::metric_only;
    for (auto m : {SessionMode::practice, SessionMode::exam})
      for (bool closed : {false, true}) CHECK_FALSE(diagnostics_visible(env, m, closed));
    env.report.diagnostics = config::Report::Diagnostics::full;
    for (auto m : {SessionMode::practice, SessionMode::exam})
      for (bool closed : {false, true}) CHECK(diagnostics_visible(env, m, closed));

    // A stored session: paused is open, stopped is over.
    env.report.diagnostics.reset();
    store::SessionRecord s;
    s.mode = "exam";
    for (auto [state, shown] : {std::pair{SessionState::running, false}, std::pair{SessionState::paused, false},
                                std::pair{SessionState::closed, true}, std::pair{SessionState::stopped, true}}) {
      set_state(s, state);
      CAPTURE(s.state);
      CHECK(diagnostics_visible(env, s) == shown);
    }
  }

  TEST_CASE("a record without task diagnostics keeps the rest of its result") {
    store::SubmissionRecord r;
    r.id = 3;
    r.result_json = R"({"verdict":"ok","metric":0.5,"task_diagnostics":{"kind":"forecast"},"log":["a"]})";
    const store::SubmissionRecord hidden = without_task_diagnostics(r);
    CHECK(boost::json::parse(hidden.result_json) == boost::json::parse(R"({"verdict":"ok","metric":0.5,"log":["a"]})"));
    CHECK(hidden.id == 3);
    r.result_json = "{}";  // not graded yet
    CHECK(without_task_diagnostics(r).result_json == "{}");
    r.result_json = "{not json";  // left alone: no reply carries it
    CHECK(without_task_diagnostics(r).result_json == "{not json");
  }

  TEST_CASE("every stage has its name, the one the grader gives its phase") {
    for (auto s : {Stage::queued, Stage::stage, Stage::build, Stage::train, Stage::evaluate, Stage::score}) {
      CAPTURE(to_string(s));
      CHECK(parse_stage(to_string(s)) == s);
    }
    for (const char* phase : {"stage", "build", "train", "evaluate", "score"}) CHECK(parse_stage(phase));
    CHECK(stage_names() == "queued, stage, build, train, evaluate, score");
    CHECK(session_state_names() == "running, paused, closed, stopped");
    CHECK_FALSE(parse_stage("compile"));
  }

  TEST_CASE("a stored text no state has is refused with the record and the text") {
    store::SubmissionRecord r;
    r.id = 42;
    r.state = "paused";
    try {
      state_of(r);
      FAIL("no error");
    } catch (const ServiceError& e) {
      CHECK(e.kind == ServiceError::Kind::invalid_state);
      CHECK(std::string(e.what()).find("submission 42 has the unknown state 'paused'") != std::string::npos);
    }
    Scoreboard scores;  // reading the history back after a restart goes through the same place
    CHECK_THROWS_AS(scores.count(r, true), ServiceError);
  }

  // The store's schema lists the states in its CHECK constraints (a
  // migration is frozen text, so it cannot read the tables above): every
  // state named here must be one the schema accepts, and come back as itself.
  TEST_CASE("the store accepts every state, and gives each back") {
    test::StoreFixture f("exam-states-store");
    for (auto s : {SessionState::running, SessionState::paused, SessionState::closed, SessionState::stopped}) {
      CAPTURE(to_string(s));
      const std::string id = "s-" + std::string(to_string(s));
      f.put_session(id, s);
      REQUIRE(f.db->session(id));
      CHECK(state_of(*f.db->session(id)) == s);
    }
    for (auto s : {SubmissionState::queued, SubmissionState::running, SubmissionState::finished,
                   SubmissionState::cancelled, SubmissionState::interrupted}) {
      CAPTURE(to_string(s));
      store::SubmissionRecord r;
      r.session_id = "s-running";
      r.task = "t";
      r.source_hash = std::string(64, 'a');
      r.source_name = "solution.cpp";
      r.submitted_at_ms = 1;
      set_state(r, s);
      const int64_t id = f.db->add_submission(r);
      CHECK(state_of(f.submission(id)) == s);
    }
  }
}
