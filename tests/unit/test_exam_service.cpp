// ExamService with a fake clock and a fake grader: a five-hour exam in
// microseconds, the queue, cancel, restore and recovery after a restart.
#include <doctest/doctest.h>

#include "base/hash.hpp"
#include "daemon/adapter.hpp"
#include "exam/exam_service.hpp"
#include "exam/provision.hpp"
#include "grading/compiler.hpp"
#include "idx_writer.hpp"
#include "service_fixture.hpp"
#include "protocol/messages.hpp"

#include <boost/json.hpp>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <sched.h>
#include <sys/resource.h>

#include <cerrno>
#include <atomic>
#include <fstream>
#include <future>
#include <thread>

namespace fs = std::filesystem;
using namespace torchexam;

namespace {
using test::FakeGrader;
using test::Fixture;
using test::kEnv;

const TaskSummary& fashion(const ExamSummary& s) {
  for (const auto& t : s.tasks)
    if (t.id == "fashion_mnist") return t;
  throw std::runtime_error("no fashion_mnist task in the summary");
}

}  // namespace

TEST_SUITE("exam_service") {
  TEST_CASE("the adapter's cached exam/status reply always equals status()") {
    Fixture f;
    daemon::Adapter adapter(*f.service, [](std::string, const std::string&) {}, [] {}, {});
    auto served = [&] {
      auto m = std::get<protocol::Message>(protocol::parse_message(
          protocol::make_request(7, "exam/status", boost::json::object{})));
      std::string body;
      adapter.binder().dispatch(m, [&](std::string b) { body = std::move(b); });
      auto reply = boost::json::parse(body);
      CHECK(reply.at("id") == 7);
      return reply.at("result");
    };
    auto same = [&](const char* when) {
      INFO(when);
      // The cache holds the summary; the clock fields are taken per call.
      CHECK(served() == boost::json::value_from(protocol::exam_status(f.service->status(""))));
    };
    f.start();
    same("after start");
    same("again, from the cache");
    f.clock.advance(1234);
    same("after the clock moved");
    f.grader.hold = true;
    f.write_solution("// score 4");
    f.service->submit("", "fashion_mnist");
    same("after a submission was queued");
    REQUIRE(f.run_until([&] { return f.grader.started.load() == 1; }));
    REQUIRE(f.run_until([&] { return served().at("queue").at(0).at("state") == "running"; }));
    same("while it runs");
    f.grader.hold = false;
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    same("after it finished");
    CHECK(served().at("total_score") == 4);
    f.service->pause("");
    f.clock.advance(60'000);
    same("while paused (the deadline moves)");
    f.service->resume("");
    f.service->stop("");
    same("after stop");
    CHECK(served().at("state") == "stopped");
  }

  TEST_CASE("provisioning lays out every task and never overwrites a workspace silently") {
    Fixture f;
    auto s = f.start();
    const fs::path task = f.root / "ws" / "fashion_mnist";
    CHECK(read_file(task / "solution.cpp") == read_file(kEnv / "fashion_mnist" / "starter.cpp"));
    CHECK(read_file(task / "README.md") == read_file(kEnv / "fashion_mnist" / "README.md"));
    CHECK(read_file(task / "CMakeLists.txt").find("find_package(Torch REQUIRED)") != std::string::npos);
    const std::string cc = read_file(task / "compile_commands.json");
    CHECK(cc.find("torch/csrc/api/include") != std::string::npos);
    CHECK(cc.find("plugins/include") != std::string::npos);
    CHECK_FALSE(fs::exists(task / "reference.cpp"));
    CHECK(s.session.state == "running");

    f.service->stop("");
    f.write_solution("// my work");
    StartOptions o;
    o.environment = kEnv;
    o.workspace = f.root / "ws";
    CHECK_THROWS_WITH_AS(f.service->start(o), doctest::Contains("is not empty"), ServiceError);
    o.overwrite = true;
    f.service->start(o);
    bool kept = false;
    for (const auto& e : fs::directory_iterator(f.root / "ws"))
      if (e.path().filename().string().rfind(".torchexam-previous-", 0) == 0)
        kept = read_file(e.path() / "fashion_mnist" / "solution.cpp") == "// my work";
    CHECK(kept);
  }

  TEST_CASE("the workspace's CMakeLists.txt and compile_commands.json use the environment's language standard") {
    const fs::path root = test::temp_dir("provision-std");
    config::Environment env = config::load_environment(kEnv);
    CHECK(env.compiler_std == "c++17");  // pinned in environment.yaml
    for (const std::string& standard : config::kCxxStandards) {
      CAPTURE(standard);
      env.compiler_std = standard;
      const fs::path ws = root / standard;
      const auto flags = Compiler(compiler_options(env, root / "cache")).compile_flags();
      provision_workspace(env, ws, false, flags, "now");
      const std::string cmake = read_file(ws / "regression" / "CMakeLists.txt");
      const bool gnu = standard.rfind("gnu", 0) == 0;
      CHECK(cmake.find("set(CMAKE_CXX_STANDARD " + standard.substr(standard.size() - 2) + ")") != std::string::npos);
      CHECK(cmake.find("set(CMAKE_CXX_STANDARD_REQUIRED ON)") != std::string::npos);
      CHECK(cmake.find(std::string("set(CMAKE_CXX_EXTENSIONS ") + (gnu ? "ON" : "OFF") + ")") != std::string::npos);
      const auto db = boost::json::parse(read_file(ws / "regression" / "compile_commands.json"));
      int stds = 0;
      for (const auto& arg : db.at(0).at("arguments").as_array())
        if (arg.as_string().starts_with("-std=")) {
          ++stds;
          CHECK(arg.as_string() == "-std=" + standard);
        }
      CHECK(stds == 1);
    }
    fs::remove_all(root);
  }

  TEST_CASE("a five-hour exam: warnings at 30, 10 and 1 minutes, then it closes") {
    Fixture f;
    auto s = f.start("exam");
    CHECK(s.remaining_s == doctest::Approx(5 * 3600));
    CHECK_THROWS_WITH_AS(f.service->pause(""), doctest::Contains("cannot be paused"), ServiceError);
    f.clock.advance((5 * 60 - 31) * 60'000LL);  // 31 minutes left
    f.service->tick();
    CHECK(f.rec.warnings.empty());
    f.clock.advance(60'000);  // 30 left
    f.service->tick();
    f.service->tick();
    REQUIRE(f.rec.warnings.size() == 1);
    CHECK(f.rec.warnings[0] == 30);
    f.clock.advance(20 * 60'000);  // 10 left
    f.service->tick();
    f.clock.advance(9 * 60'000);  // 1 left
    f.service->tick();
    CHECK(f.rec.warnings == std::vector<std::optional<int>>{30, 10, 1});

    // A submission made before the deadline is graded after it.
    f.write_solution("// score 4");
    f.grader.hold = true;
    const int64_t id = f.service->submit("", "fashion_mnist");
    f.clock.advance(60'000);  // the deadline
    f.service->tick();
    CHECK(f.rec.closed == 1);
    CHECK(f.service->status("").session.state == "closed");
    CHECK(f.service->status("").remaining_s == 0);
    CHECK_THROWS_WITH_AS(f.service->submit("", "fashion_mnist"), doctest::Contains("the exam closed"), ServiceError);
    f.grader.hold = false;
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    CHECK(f.service->submission(id).state == "finished");
    CHECK(fashion(f.service->status("")).best_score == 4);
  }

  TEST_CASE("report/data hides task diagnostics during an exam; at the close the report is written and named") {
    Fixture f;
    std::vector<boost::json::value> notes;
    daemon::Adapter adapter(
        *f.service, [&](std::string body, const std::string&) { notes.push_back(boost::json::parse(body)); }, [] {}, {});
    auto call = [&](boost::json::object params) {
      auto m = std::get<protocol::Message>(protocol::parse_message(protocol::make_request(9, "report/data", params)));
      std::string body;
      adapter.binder().dispatch(m, [&](std::string b) { body = std::move(b); });
      return boost::json::parse(body);
    };
    f.start("exam");
    f.write_solution("// score 3");
    const int64_t id = f.service->submit("", "fashion_mnist");
    REQUIRE(f.run_until([&] { return f.service->idle(); }));

    auto during = call({}).at("result");
    CHECK(during.at("scope") == "session");
    CHECK(during.at("diagnostics_visible") == false);  // an exam that is running: metric only
    REQUIRE(during.at("details").as_array().size() == 1);
    CHECK(during.at("details").at(0).at("submission") == id);
    CHECK(during.at("progress").at(0).at("submission") == id);
    CHECK(during.at("progress").at(0).at("events").at(0).at("kind") == "epoch");  // the fake grader's one event
    CHECK(call({{"task", "fashion_mnist"}}).at("result").at("scope") == "task");
    CHECK(call({{"submission", id}}).at("result").at("history").as_array().size() == 1);
    CHECK(call({{"submission", 999}}).at("error").at("code") == protocol::error_code::not_found);
    const auto unknown = call({{"task", "nope"}}).at("error");
    CHECK(unknown.at("code") == protocol::error_code::not_found);
    CHECK(std::string(unknown.at("message").as_string()).find("no task 'nope'") != std::string::npos);
    CHECK(call({{"colour", "red"}}).at("error").at("code") == protocol::error_code::invalid_params);

    f.clock.advance(5 * 3600 * 1000LL);  // the deadline
    f.service->tick();
    const boost::json::value* closed = nullptr;
    for (const auto& n : notes)
      if (n.at("method") == "exam/closed") closed = &n;
    REQUIRE(closed);
    const fs::path report = f.root / "ws" / "torchexam-report.html";
    CHECK(closed->at("params").at("report") == boost::json::value(report.string()));
    const std::string html = read_file(report);
    CHECK(html.find("Exam result") != std::string::npos);
    CHECK(html.find("Submission " + std::to_string(id)) != std::string::npos);
    CHECK(html.find("shows the metric only") == std::string::npos);  // closed: everything shows
    CHECK(call({}).at("result").at("diagnostics_visible") == true);
  }

  TEST_CASE("practice mode pauses, and a pause moves the deadline") {
    Fixture f;
    f.start();
    f.clock.advance(3600'000);
    f.service->pause("");
    f.clock.advance(7200'000);
    CHECK(f.service->status("").remaining_s == doctest::Approx(4 * 3600));
    f.service->resume("");
    f.clock.advance(1000);
    CHECK(f.service->status("").remaining_s == doctest::Approx(4 * 3600 - 1));
  }

  TEST_CASE("the best score is the maximum, and the history keeps every attempt") {
    Fixture f;
    f.start();
    int64_t ids[3];
    const char* sources[] = {"// score 2", "// score 5", "// score 1"};
    for (int i = 0; i < 3; ++i) {
      f.write_solution(sources[i]);
      ids[i] = f.service->submit("", "fashion_mnist");
      REQUIRE(f.run_until([&] { return f.service->idle(); }));
    }
    auto st = f.service->status("");
    CHECK(fashion(st).best_score == 5);
    CHECK(fashion(st).best_submission == ids[1]);
    CHECK(fashion(st).last_verdict == "ok");
    CHECK(st.total_score == 5);
    CHECK(st.pass_mark == 15);
    CHECK_FALSE(st.passed);  // 5 of the 15 needed
    auto h = f.service->history("", "fashion_mnist");
    REQUIRE(h.size() == 3);
    CHECK(h[1].score == 5);
    CHECK(f.service->source_of(ids[1]) == "// score 5");
    CHECK(h[0].curve_json.find("\"loss\":5E-1") != std::string::npos);
    CHECK_FALSE(f.service->submission_events(ids[0]).empty());
  }

  // Hashing and fsync'ing a checkpoint takes milliseconds: the thread that
  // graded the job stores it, before the io thread hears of the result.
  TEST_CASE("a finished job's checkpoint is stored by content hash, before the io thread records it") {
    Fixture f;
    f.start();
    f.write_solution("// score 3");
    const int64_t id = f.service->submit("", "fashion_mnist");
    const std::string hash = sha256_hex("weights of // score 3");
    const fs::path stored = f.db->artifact_path(hash);
    // The io loop is not run here, so only the worker can have written it.
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!fs::exists(stored) && std::chrono::steady_clock::now() < until)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    CHECK(fs::exists(stored));
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    const auto rec = f.db->submission(id);
    REQUIRE(rec);
    CHECK(rec->state == "finished");
    const auto result = boost::json::parse(rec->result_json).as_object();
    CHECK(result.at("artifacts").at("checkpoint").as_string() == hash);
    CHECK(f.db->get_artifact(hash) == "weights of // score 3");
  }

  TEST_CASE("task diagnostics: an exam's replies leave them out until it is over, practice shows them") {
    const TaskDiagnostics forecast{"forecast", std::nullopt, std::nullopt,
                                   ForecastDiagnostics{"week", {0.3, 0.4}, {{-1, 0, 1}, {2, 2}}}};
    const auto has = [](const auto& r) {  // a submission's or a judging's record
      return boost::json::parse(r.result_json).as_object().contains("task_diagnostics");
    };
    {
      Fixture f;
      f.grader.diagnostics = forecast;
      f.start("exam");
      f.write_solution("// score 3");
      const int64_t id = f.service->submit("", "fashion_mnist");
      REQUIRE(f.run_until([&] { return f.service->idle(); }));
      CHECK(has(*f.db->submission(id)));  // the store keeps the whole grading
      CHECK_FALSE(has(f.service->submission(id)));
      CHECK_FALSE(has(f.service->history("", "fashion_mnist").at(0)));
      REQUIRE(f.rec.finished.size() == 1);
      CHECK_FALSE(has(f.rec.finished[0]));
      const store::SubmissionRecord shown = f.service->submission(id);
      CHECK(has(f.db->judgings(id).at(0)));
      const auto judgings = f.service->judgings(shown);  // every grading, shown alike
      REQUIRE(judgings.size() == 1);
      CHECK_FALSE(has(judgings[0]));
      const protocol::Submission reply = protocol::submission(shown, -1, judgings);
      REQUIRE(reply.result);
      CHECK(reply.result->grade.score == 3);
      CHECK_FALSE(reply.result->grade.task_diagnostics);
      // Over: the deadline passes, and they show.
      f.clock.advance(5 * 3600'000LL);
      f.service->tick();
      REQUIRE(f.service->status("").session.state == "closed");
      const store::SubmissionRecord now = f.service->submission(id);
      CHECK(has(f.service->judgings(now).at(0)));
      const protocol::Submission after = protocol::submission(now, -1, f.service->judgings(now));
      REQUIRE(after.result);
      CHECK(after.result->grade.task_diagnostics == forecast);
      CHECK(has(f.service->history("", "fashion_mnist").at(0)));
    }
    {
      Fixture f;
      f.grader.diagnostics = forecast;
      f.start();
      f.write_solution("// score 2");
      const int64_t id = f.service->submit("", "fashion_mnist");
      REQUIRE(f.run_until([&] { return f.service->idle(); }));
      CHECK(has(f.service->submission(id)));
      CHECK(has(f.rec.finished.at(0)));
    }
    {
      // An environment that says metric_only hides them in practice too.
      Fixture f;
      f.grader.diagnostics = forecast;
      const fs::path env = f.root / "env-metric-only";
      fs::copy(kEnv, env, fs::copy_options::recursive);
      std::ofstream(env / "environment.yaml", std::ios::app) << "report: {diagnostics: metric_only}\n";
      StartOptions o;
      o.environment = env;
      o.workspace = f.root / "ws";
      f.service->start(o);
      f.write_solution("// score 2");
      const int64_t id = f.service->submit("", "fashion_mnist");
      REQUIRE(f.run_until([&] { return f.service->idle(); }));
      CHECK(has(*f.db->submission(id)));
      CHECK_FALSE(has(f.service->submission(id)));
      f.service->stop("");
      CHECK_FALSE(has(f.service->submission(id)));
    }
  }

  TEST_CASE("grading jobs run at the configured niceness") {
    const int own_nice = ::getpriority(PRIO_PROCESS, 0);
    for (const int nice : {0, 7}) {
      CAPTURE(nice);
      Fixture f;
      f.job_nice = nice;
      f.make_service();
      f.start();
      f.write_solution("// score 1");
      f.service->submit("", "fashion_mnist");
      REQUIRE(f.run_until([&] { return f.service->idle(); }));
      CHECK(f.grader.policy.load() == SCHED_OTHER);
      // 0 leaves the niceness alone.
      CHECK(f.grader.nice.load() == (nice > 0 ? nice : own_nice));
      CHECK(::sched_getscheduler(0) == SCHED_OTHER);  // the io thread keeps its own
    }
  }

  TEST_CASE("restore brings back a submission's source and keeps the current one") {
    Fixture f;
    f.start();
    f.write_solution("// score 5 best");
    const int64_t best = f.service->submit("", "fashion_mnist");
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    f.write_solution("// broken edit");
    auto r = f.service->restore(best);
    CHECK(read_file(r.file) == "// score 5 best");
    CHECK(read_file(r.previous_copy) == "// broken edit");
    CHECK(sha256_hex("// broken edit") == r.previous_hash);
  }

  // The fake clock does not move between the two restores: the same second.
  TEST_CASE("two restores in one second keep both backups, and restoring the current source makes none") {
    Fixture f;
    f.start();
    f.write_solution("// score 5 best");
    const int64_t best = f.service->submit("", "fashion_mnist");
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    f.write_solution("// first edit");
    auto first = f.service->restore(best);
    f.write_solution("// second edit");
    auto second = f.service->restore(best);
    CHECK(first.previous_copy != second.previous_copy);
    CHECK(read_file(first.previous_copy) == "// first edit");
    CHECK(read_file(second.previous_copy) == "// second edit");
    auto again = f.service->restore(best);  // the file already holds that source
    CHECK(again.previous_copy.empty());
    CHECK(again.previous_hash.empty());
    CHECK(read_file(again.file) == "// score 5 best");
  }

  TEST_CASE("cancel: a waiting job never runs, a running one is stopped") {
    Fixture f;
    f.start();
    f.grader.hold = true;
    f.write_solution("// score 3");
    const int64_t first = f.service->submit("", "fashion_mnist");
    const int64_t second = f.service->submit("", "fashion_mnist");
    REQUIRE(f.run_until([&] { return f.grader.started == 1; }));
    CHECK(f.service->queue_position(first) == 0);
    CHECK(f.service->queue_position(second) == 1);
    CHECK(f.service->cancel(second));
    CHECK(f.service->submission(second).state == "cancelled");
    CHECK(f.service->cancel(first));
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    CHECK(f.service->submission(first).state == "cancelled");
    CHECK(f.grader.started == 1);
    CHECK_FALSE(f.service->cancel(first));
  }

  TEST_CASE("after a restart: sessions, remaining time and the unfinished submission come back") {
    Fixture f;
    f.start("exam");
    f.clock.advance(3600'000);
    f.write_solution("// score 3");
    f.grader.hold = true;
    const int64_t id = f.service->submit("", "fashion_mnist");
    REQUIRE(f.run_until([&] { return f.grader.started == 1; }));
    // The daemon goes away mid-grading: its service and store are dropped.
    f.service.reset();
    f.db.reset();
    f.grader.hold = false;
    f.clock.advance(600'000);  // ten minutes while it was down
    f.db = store::Store::open(f.root / "state");
    CHECK(f.db->submission(id)->state != "finished");
    f.make_service();
    f.service->recover();
    auto st = f.service->status("");
    CHECK(st.session.mode == "exam");
    CHECK(st.remaining_s == doctest::Approx(5 * 3600 - 3600 - 600));
    REQUIRE(f.run_until([&] { return f.service->idle(); }));
    auto rec = f.service->submission(id);
    CHECK(rec.state == "finished");
    CHECK(rec.score == 3);
    CHECK(rec.attempts == 2);
  }

  TEST_CASE("bad requests are refused with what to do") {
    Fixture f;
    CHECK_THROWS_WITH_AS(f.service->status(""), doctest::Contains("torchexam start"), ServiceError);
    f.start();
    CHECK_THROWS_WITH_AS(f.service->submit("", "fashion"), doctest::Contains("no task 'fashion' in this exam; did you mean 'fashion_mnist'? (tasks: regression"), ServiceError);
    CHECK_THROWS_WITH_AS(f.service->submit("", "fashion_mnist", "../x"), doctest::Contains("file name"), ServiceError);
    CHECK_THROWS_WITH_AS(f.service->submission(999), doctest::Contains("no submission 999"), ServiceError);
    StartOptions o;
    o.environment = kEnv;
    o.workspace = f.root / "ws";
    CHECK_THROWS_WITH_AS(f.service->start(o), doctest::Contains("already open"), ServiceError);
    o.environment = f.root / "nowhere";
    o.workspace = f.root / "ws2";
    CHECK_THROWS_WITH_AS(f.service->start(o), doctest::Contains("environment.yaml"), ServiceError);
  }

  TEST_CASE("exam/start runs the environment checks: exam mode refuses a failed one, practice mode warns") {
    Fixture f;
    int runs = 0;
    f.verify = [&runs](const config::Environment&) {
      ++runs;
      return std::vector<doctor::CheckResult>{
          {"compiler", doctor::Status::ok, "gcc 12.2.0", "gcc >=12", ""},
          {"data auto-mpg", doctor::Status::fail, "cars.json is missing", "1 item(s)", "torchexam data ENV"},
          {"cpu", doctor::Status::warn, "no avx2", "avx2 and fma", "none needed"}};
    };
    f.service.reset();
    f.make_service();
    StartOptions o;
    o.environment = kEnv;
    o.workspace = f.root / "ws";
    o.mode = "exam";
    std::string refusal;
    try {
      f.service->start(o);
    } catch (const ServiceError& e) {
      refusal = e.what();
      CHECK(e.kind == ServiceError::Kind::environment_error);
    }
    CHECK(refusal.find("does not meet the exam environment's requirements") != std::string::npos);
    CHECK(refusal.find("\nfail  data auto-mpg: cars.json is missing; expected 1 item(s); fix: torchexam data ENV") !=
          std::string::npos);
    CHECK(refusal.find("cpu") == std::string::npos);  // a warning does not refuse
    CHECK_FALSE(fs::exists(f.root / "ws"));  // refused before provisioning
    const ExamSummary s = f.start("practice");
    REQUIRE(s.checks.size() == 2);  // the failed and the warned check, same messages
    CHECK(s.checks[0].name == "data auto-mpg");
    CHECK(s.checks[0].fix == "torchexam data ENV");
    CHECK(s.checks[1].status == doctor::Status::warn);
    CHECK(runs == 2);

    const VerifyReport r = f.service->verify(kEnv);
    CHECK_FALSE(r.ok);
    CHECK(r.checks.size() == 3);
    CHECK(r.forecasts.empty());
  }

  TEST_CASE("start_async checks the machine off the io thread, and a second start of the workspace waits its turn") {
    Fixture f;
    // The checks block until the test lets them go: meanwhile the io
    // thread must go on serving (here: status of another session).
    std::promise<void> go;
    std::shared_future<void> gate = go.get_future().share();
    std::atomic<int> runs{0};
    f.verify = [gate, &runs](const config::Environment&) {
      ++runs;
      gate.wait();
      return std::vector<doctor::CheckResult>{
          {"data auto-mpg", doctor::Status::fail, "cars.json is missing", "1 item(s)", "torchexam data ENV"}};
    };
    f.service.reset();
    f.make_service();
    StartOptions o;
    o.environment = kEnv;
    o.workspace = f.root / "ws";
    int answers = 0;
    std::exception_ptr error;
    ExamSummary summary;
    f.service->start_async(o, [&](std::exception_ptr e, ExamSummary s) {
      ++answers;
      error = e;
      summary = std::move(s);
    });
    // A second start of the same workspace while the first one checks.
    CHECK_THROWS_WITH_AS(f.service->start_async(o, [](std::exception_ptr, ExamSummary) {}),
                         doctest::Contains("is being started in"), ServiceError);
    // An exam-mode start elsewhere, refused through `done` once its checks fail.
    StartOptions exam = o;
    exam.workspace = f.root / "ws-exam";
    exam.mode = "exam";
    std::string refusal;
    f.service->start_async(exam, [&](std::exception_ptr e, ExamSummary) {
      ++answers;
      try {
        if (e) std::rethrow_exception(e);
      } catch (const ServiceError& se) {
        CHECK(se.kind == ServiceError::Kind::environment_error);
        refusal = se.what();
      }
    });
    for (int i = 0; i < 20; ++i) f.io.poll();  // the loop is free: nothing answered, nothing laid out
    CHECK(answers == 0);
    CHECK_FALSE(f.service->idle());
    CHECK(f.service->sessions().empty());
    CHECK_FALSE(fs::exists(f.root / "ws"));
    go.set_value();
    REQUIRE(f.run_until([&] { return answers == 2; }));
    CHECK(runs == 2);
    CHECK_FALSE(error);
    CHECK(summary.checks.size() == 1);  // practice mode: the failed check comes back as a warning
    CHECK(fs::exists(f.root / "ws" / "fashion_mnist" / "solution.cpp"));
    CHECK(f.service->sessions().size() == 1);
    CHECK(refusal.find("does not meet the exam environment's requirements") != std::string::npos);
    CHECK_FALSE(fs::exists(f.root / "ws-exam"));
    CHECK(f.service->idle());
    // Once the first start is done, the workspace is taken by its session.
    CHECK_THROWS_WITH_AS(f.service->start_async(o, [](std::exception_ptr, ExamSummary) {}),
                         doctest::Contains("is already open in"), ServiceError);

    // env/verify the same way.
    bool verified = false;
    f.service->verify_async(kEnv, [&](std::exception_ptr e, VerifyReport r) {
      verified = true;
      CHECK_FALSE(e);
      CHECK_FALSE(r.ok);
      CHECK(r.checks.size() == 1);
    });
    REQUIRE(f.run_until([&] { return verified; }));
    bool missing = false;
    f.service->verify_async(f.root / "nowhere", [&](std::exception_ptr e, VerifyReport) { missing = e != nullptr; });
    REQUIRE(f.run_until([&] { return missing; }));
  }

  TEST_CASE("env/verify returns the stored forecast") {
    Fixture f;
    f.verify = [](const config::Environment&) {
      return std::vector<doctor::CheckResult>{{"compiler", doctor::Status::ok, "gcc 12.2.0", "gcc >=12", ""}};
    };
    f.service.reset();
    f.make_service();
    const std::string name = config::load_environment(kEnv).name;
    doctor::Forecast fc;
    fc.task = "fashion_mnist";
    fc.samples_per_s = 4000;
    fc.reference_s = 70;
    doctor::store_forecasts(doctor::forecast_file(f.root / "state", name), {fc});
    const VerifyReport r = f.service->verify(kEnv);
    CHECK(r.ok);
    REQUIRE(r.forecasts.size() == 1);
    CHECK(r.forecasts[0].reference_s == doctest::Approx(70));
    CHECK_THROWS_AS(f.service->verify(f.root / "nowhere"), ServiceError);
  }
}
