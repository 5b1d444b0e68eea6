// Session and submission states and grading stages: the one place that names them.
#include <doctest/doctest.h>

#include "exam/service_error.hpp"
#include "exam/states.hpp"
#include "exam/status.hpp"

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
}
