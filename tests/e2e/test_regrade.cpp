// `torchexam regrade` end to end (docs/rejudging.md), through the client and
// the daemon it starts, on the regression task (392 cars, about a second of
// training) in a copy of the practice environment: a changed ladder
// rescored (the score moves, no runner starts, the delta names the ladder,
// apply moves the best score), and a session retrained (every score
// reproduces). The command line's refusals need no daemon.
#include <doctest/doctest.h>

#include "cli_exam_util.hpp"

#include <boost/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using test::Exam;
using test::kSource;
using test::slurp;

namespace {

const fs::path kPractice = kSource / "environments/practice";

// Replaces `from` by `to` in `file`, which must hold it.
void edit(const fs::path& file, const std::string& from, const std::string& to) {
  std::string text = slurp(file);
  const size_t at = text.find(from);
  REQUIRE_MESSAGE(at != std::string::npos, file.string() << " does not hold: " << from);
  text.replace(at, from.size(), to);
  std::ofstream(file, std::ios::trunc) << text;
}

// A practice session of a copy of the practice environment with the
// regression task alone, and two graded submissions of it: the reference
// and the weak solution.
struct RegressionExam {
  Exam x;
  fs::path env = x.root / "env";
  std::string session;
  std::vector<json::object> graded;  // submission/list's records, by id

  RegressionExam() {
    fs::copy(kPractice, env, fs::copy_options::recursive);
    edit(env / "environment.yaml",
         "tasks:              # in rising difficulty\n  - regression\n  - fashion_mnist\n  - real_world_images\n"
         "  - text_classification\n  - time_series\n",
         "tasks: [regression]\n");
    edit(env / "environment.yaml", "pass_mark: 15 ", "pass_mark: 3 ");
    fs::create_directories(x.ws);
    session = std::string(
        x.json_of({"start", env.string(), "--workspace", x.ws.string(), "--mode", "practice"}, x.root)
            .at("session")
            .as_string());
    for (const char* source : {"environments/practice/regression/reference.cpp", "tests/solutions/regression_weak.cpp"}) {
      fs::copy_file(kSource / source, x.ws / "regression/solution.cpp", fs::copy_options::overwrite_existing);
      const test::CliRun sub = x.run({"submit", "regression", "--wait"}, x.ws, 600);
      REQUIRE(sub.exit_code == 0);
      REQUIRE_MESSAGE(sub.out.find("verdict: ok") != std::string::npos, sub.out << sub.err);
    }
    const json::object history = x.json_of({"history", "regression"});
    for (const auto& s : history.at("submissions").as_array()) graded.push_back(s.as_object());
    REQUIRE(graded.size() == 2);
  }

  std::set<std::string> job_folders() const {
    std::set<std::string> out;
    for (const auto& e : fs::directory_iterator(x.root / "state/jobs")) out.insert(e.path().filename().string());
    return out;
  }
};

const json::object& row_of(const json::object& set, const json::value& submission) {
  for (const auto& r : set.at("rows").as_array())
    if (r.at("submission") == submission) return r.as_object();
  FAIL("no row for submission " << submission);
  static json::object none;
  return none;
}

bool reasons_name(const json::object& row, const std::string& what) {
  for (const auto& r : row.at("reasons").as_array())
    if (std::string(r.as_string()).find(what) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_SUITE("regrade") {
  TEST_CASE("regrade --rescore: a changed ladder moves the score, starts no runner, and the delta names it") {
    RegressionExam e;
    const json::object& reference = e.graded[0];
    REQUIRE(reference.at("score").to_number<int>() == 5);  // mae about 1.58 against 1.85 for a 5
    const double mae = reference.at("metric").to_number<double>();
    REQUIRE(mae > 1.5);
    // The exam author tightens the top rung past the reference's error.
    edit(e.env / "regression/task.yaml", "ladder: [4.0, 3.0, 2.5, 2.1, 1.85]", "ladder: [4.0, 3.0, 2.5, 2.1, 1.5]");
    const std::set<std::string> before = e.job_folders();

    const json::object set =
        e.x.json_of({"regrade", "--task", "regression", "--rescore", "--reason", "ladder recalibrated"});
    CHECK(set.at("state").as_string() == "review");
    CHECK(set.at("kind").as_string() == "rescore");
    CHECK(set.at("reason").as_string() == "ladder recalibrated");
    REQUIRE(set.at("rows").as_array().size() == 2);
    const json::object& row = row_of(set, reference.at("submission"));
    CHECK(row.at("old").at("score").to_number<int>() == 5);
    CHECK(row.at("new").at("score").to_number<int>() == 4);
    CHECK(row.at("delta_score").to_number<int>() == -1);
    CHECK(row.at("new").at("metric").to_number<double>() == mae);  // the same predictions
    CHECK(reasons_name(row, "ladder changed"));
    // No runner: no job folder was made (a retrain leaves regrade-<set>-<id>/train).
    CHECK(e.job_folders() == before);

    // In review nothing counts yet; the plain table names the ladder too.
    const std::string id = std::to_string(set.at("rejudge").to_number<int64_t>());
    CHECK(test::task(e.x.json_of({"status"}), "regression").at("best_score").to_number<int>() == 5);
    const test::CliRun shown = e.x.run({"regrade", "--show", id});
    CHECK(shown.exit_code == 0);
    CHECK(shown.out.find("ladder changed") != std::string::npos);
    CHECK(shown.out.find("--apply " + id) != std::string::npos);

    const json::object applied = e.x.json_of({"regrade", "--apply", id});
    CHECK(applied.at("state").as_string() == "applied");
    const json::object st = e.x.json_of({"status"});
    CHECK(test::task(st, "regression").at("best_score").to_number<int>() == 4);
    const json::object history = e.x.json_of({"history", "regression"});
    const json::object& regraded = history.at("submissions").at(0).as_object();
    CHECK(regraded.at("submission") == reference.at("submission"));
    CHECK(regraded.at("score").to_number<int>() == 4);

    // Nothing was overwritten: every judging of each submission is in its
    // history, its own grading (with the fingerprint it was graded with) no
    // longer live, the set's live.
    REQUIRE(reference.at("judgings").as_array().size() == 1);  // before the regrade: its own, live
    CHECK(reference.at("judgings").at(0).at("live") == true);
    for (const auto& s : history.at("submissions").as_array()) {
      const json::array& judgings = s.at("judgings").as_array();
      CAPTURE(json::serialize(judgings));
      REQUIRE(judgings.size() == 2);
      CHECK(judgings[0].at("live") == false);
      CHECK(judgings[0].at("rejudge").is_null());
      CHECK(judgings[1].at("live") == true);
      CHECK(judgings[1].at("rejudge") == set.at("rejudge"));
      CHECK(judgings[1].at("score") == s.at("score"));
      CHECK(judgings[1].at("fingerprint") == s.at("fingerprint"));
      CHECK(judgings[0].at("judging").to_number<int64_t>() < judgings[1].at("judging").to_number<int64_t>());
    }
    const json::array& judgings = regraded.at("judgings").as_array();
    REQUIRE(judgings.size() == 2);
    const json::value& own = judgings[0];
    CHECK(own.at("judging") == reference.at("judgings").at(0).at("judging"));
    CHECK(own.at("score").to_number<int>() == 5);
    CHECK(own.at("metric").to_number<double>() == mae);
    CHECK(own.at("finished_at_ms") == reference.at("finished_at_ms"));
    REQUIRE(own.at("fingerprint").is_object());
    CHECK(own.at("fingerprint") == reference.at("fingerprint"));
    CHECK(own.at("fingerprint").at("task").at("ladder").at(4).to_number<double>() == 1.85);
    CHECK(judgings[1].at("fingerprint").at("task").at("ladder").at(4).to_number<double>() == 1.5);
    CHECK(judgings[1].at("score").to_number<int>() == 4);
    // The plain history prints the judging that no longer counts under its submission.
    const test::CliRun plain = e.x.run({"history", "regression"});
    CHECK(plain.exit_code == 0);
    char old_line[128];
    std::snprintf(old_line, sizeof old_line, "judging %lld (as submitted, not live): ok %.4f 5/5",
                  static_cast<long long>(own.at("judging").to_number<int64_t>()), mae);
    CHECK_MESSAGE(plain.out.find(old_line) != std::string::npos, plain.out);
    size_t not_live = 0;  // one per submission, its own grading; the set's are live
    for (size_t at = plain.out.find("not live)"); at != std::string::npos; at = plain.out.find("not live)", at + 1))
      ++not_live;
    CHECK(not_live == 2);
    CHECK(plain.out.find("(regrade set") == std::string::npos);
    // Applied, it can be neither applied nor cancelled again.
    const test::CliRun again = e.x.run({"regrade", "--cancel", id});
    CHECK(again.exit_code == 1);
    CHECK(again.err.find("only a running set or one in review") != std::string::npos);
  }

  TEST_CASE("regrade --retrain of a session reproduces every score") {
    RegressionExam e;
    const json::object set = e.x.json_of({"regrade", "--session", e.session, "--retrain"}, e.x.root);
    CHECK(set.at("state").as_string() == "review");
    CHECK(set.at("kind").as_string() == "retrain");
    REQUIRE(set.at("rows").as_array().size() == 2);
    for (const auto& graded : e.graded) {
      const json::object& row = row_of(set, graded.at("submission"));
      CAPTURE(json::serialize(row));
      CHECK(row.at("new").at("verdict") == graded.at("verdict"));
      CHECK(row.at("new").at("score") == graded.at("score"));
      CHECK(row.at("new").at("metric").to_number<double>() == graded.at("metric").to_number<double>());
      CHECK(row.at("delta_score").to_number<int>() == 0);
    }
    CHECK(set.at("changed").to_number<int>() == 0);
    // It trained again: the regrade's job folder holds a training.
    const std::string id = std::to_string(set.at("rejudge").to_number<int64_t>());
    const std::string first = std::to_string(e.graded[0].at("submission").to_number<int64_t>());
    CHECK(fs::is_directory(e.x.root / "state/jobs" / ("regrade-" + id + "-" + first) / "train"));
    // A second set of the same submissions is refused while this one is open.
    const test::CliRun overlap = e.x.run({"regrade", "--session", e.session, "--rescore"}, e.x.root);
    CHECK(overlap.exit_code == 1);
    CHECK(overlap.err.find("already in regrade set " + id) != std::string::npos);
    CHECK(e.x.json_of({"regrade", "--cancel", id}).at("state").as_string() == "cancelled");
  }

  TEST_CASE("the command line: regrade says what is missing or contradictory, and how to fix it") {
    const auto refused = [](std::vector<std::string> args, const std::string& says) {
      Exam x;
      args.insert(args.begin(), "regrade");
      const test::CliRun r = x.run(args, x.root);
      CHECK(r.exit_code == 2);
      CHECK_MESSAGE(r.err.find(says) != std::string::npos, r.err);
      CHECK(!fs::exists(x.root / "state/daemon.lock"));  // refused before any daemon was started
    };
    refused({}, "say how to regrade: --rescore");
    refused({"--task", "regression"}, "say how to regrade");
    refused({"--rescore"}, "say what to regrade: --submission N, --task T");
    refused({"--rescore", "--retrain", "--task", "t"}, "choose one of --rescore and --retrain");
    refused({"--rescore", "--submission", "3", "--session", "s"}, "leave out --session");
    refused({"--rescore", "--session", "s", "--environment", "practice"}, "give one");
    refused({"--show", "1", "--apply", "2"}, "give one of --show, --apply and --cancel");
    refused({"--apply", "1", "--rescore"}, "take only a set id");
    refused({"--rescore", "--environment", "no-such-environment"}, "no-such-environment");
  }
}
