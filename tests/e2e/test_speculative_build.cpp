// Speculative builds (exam/speculative_builds.hpp) in the exam service with
// the real pieces: the g++ save check, the Compiler and its content-hash
// cache (the tests' shared cache, so the precompiled header is built once),
// the real grader on the local backend. Only the watcher is the test's: it
// reports a save when the test writes one (the WatchFactory effect). Each
// test's source carries a comment of its own, so no earlier run's cache
// entry answers for it. The grader may be held before it starts (a local
// grading that runs as long as the test wants).
#include <doctest/doctest.h>

#include "../unit/idx_writer.hpp"
#include "base/clock.hpp"
#include "base/hash.hpp"
#include "base/paths.hpp"
#include "e2e_util.hpp"
#include "exam/exam_service.hpp"
#include "exam/states.hpp"
#include "grading/backend/backend.hpp"
#include "grading/grade_json.hpp"
#include "store/store.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

namespace fs = std::filesystem;
using namespace torchexam;
using namespace torchexam::e2e;

namespace {

// Generous: builds beside other work on a loaded machine; never a measure
// of speed (bench/feedback_latency is).
constexpr auto kDeadline = std::chrono::minutes(8);

struct SpeculatingExam {
  explicit SpeculatingExam(const std::string& name)
      : root(test::temp_dir("speculative-" + name)), db(store::Store::open(root / "state")), tag(name) {
    ServiceOptions o;
    o.jobs_dir = root / "jobs";
    o.cache_dir = paths::cache_dir();
    o.state_dir = root / "state";
    o.backends = &backends;
    o.speculation = SpeculationMode::idle;
    o.watch = [this](const fs::path&, std::function<void(const std::vector<fs::path>&)> changed) {
      saved = std::move(changed);
      return std::make_shared<int>(0);
    };
    service = std::make_unique<ExamService>(io, clock, *db, o, [this](const GradeRequest& r, GradeObserver& obs) {
      while (hold.load()) {  // a grading that runs until the test lets it go or cancels it
        if (r.cancel && r.cancel->load()) {
          GradeResult g;
          g.cancelled = true;
          return g;
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      return grade(r, obs);
    });
    StartOptions s;
    s.environment = kSource / "environments/practice";
    s.workspace = root / "ws";
    session = service->start(s).session.id;
  }
  ~SpeculatingExam() {
    service.reset();
    fs::remove_all(root);
  }

  fs::path file(const std::string& task = "regression") const { return root / "ws" / task / "solution.cpp"; }
  // The regression starter (it compiles cleanly), made this test's own by
  // a comment, with `line` added inside the model's constructor.
  std::string source(const std::string& variant, const std::string& line = "") const {
    std::string text = read_file(kSource / "environments/practice/regression/starter.cpp");
    const std::string anchor = "  NetImpl() {\n";
    const size_t at = text.find(anchor);
    REQUIRE(at != std::string::npos);
    text.insert(at + anchor.size(), line.empty() ? "" : "    " + line + "\n");
    return fmt::format("// speculative build test {} {} {} {}\n", tag, variant, ::getpid(),
                       std::chrono::system_clock::now().time_since_epoch().count()) +
           text;
  }
  // Writes the regression solution and reports the save, as the watcher would.
  void save(const std::string& text) {
    std::ofstream(file(), std::ios::trunc) << text;
    REQUIRE(saved);
    saved({file()});
  }
  template <class F>
  bool run_until(F&& cond) {
    const auto until = std::chrono::steady_clock::now() + kDeadline;
    while (!cond()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io.run_one_for(std::chrono::milliseconds(20));
    }
    return true;
  }
  const SpeculationCounts& counts() const { return service->speculation_counts(); }
  // Submits `task`'s file and waits for its grading's end.
  GradeResult submit_and_wait(const std::string& task = "regression") {
    const int64_t id = service->submit(session, task);
    REQUIRE(run_until([&] {
      const SubmissionState st = state_of(service->submission(id));
      return st != SubmissionState::queued && st != SubmissionState::running;
    }));
    return boost::json::value_to<GradeRecord>(boost::json::parse(db->submission(id)->result_json)).grade;
  }
  // The cache entry holding `text` as its source: the folder exists once its
  // build holds the entry's lock.
  bool building(const std::string& text) const {
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(paths::cache_dir() / "builds", ec)) {
      const fs::path src = e.path() / "solution.cpp";
      if (fs::exists(src, ec) && fs::file_size(src, ec) == text.size() && read_file(src) == text) return true;
    }
    return false;
  }

  fs::path root;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard = boost::asio::make_work_guard(io);
  SystemClock clock;
  std::unique_ptr<store::Store> db;
  BackendRegistry backends{system_launcher()};
  std::function<void(const std::vector<fs::path>&)> saved;
  std::atomic<bool> hold{false};
  std::string tag;
  std::unique_ptr<ExamService> service;
  std::string session;
};

}  // namespace

TEST_SUITE("e2e") {
  TEST_CASE("speculative_build: a clean save is built before the submit, which finds the build ready") {
    SpeculatingExam exam("ready");
    exam.save(exam.source("a"));
    REQUIRE(exam.run_until([&] { return exam.counts().built == 1; }));
    CHECK(exam.counts().started == 1);
    const GradeResult r = exam.submit_and_wait();
    INFO(r.message);
    CHECK(r.verdict != Verdict::compile_error);
    CHECK(r.verdict != Verdict::internal_error);
    CHECK(r.build_cached);
    CHECK(exam.counts().started == 1);  // the grading started none
  }

  TEST_CASE("speculative_build: the next save cancels it, a broken save starts none, other content is built anew") {
    SpeculatingExam exam("cancel");
    exam.save(exam.source("a"));
    REQUIRE(exam.run_until([&] { return exam.counts().started == 1; }));
    exam.save(exam.source("b"));  // while a's build runs
    REQUIRE(exam.run_until([&] { return exam.counts().cancelled == 1; }));
    REQUIRE(exam.run_until([&] { return exam.counts().built == 1; }));  // b's
    CHECK(exam.counts().started == 2);

    // A broken save after b was built: no build starts, and its submit
    // builds its own content (a compile error), not b's library.
    const std::string broken = exam.source("broken", "frobnicate_layers(3);");
    exam.save(broken);
    REQUIRE(exam.run_until([&] { return exam.counts().skipped == 1; }));
    CHECK(exam.counts().started == 2);
    CHECK_FALSE(exam.building(broken));
    const GradeResult r = exam.submit_and_wait();
    INFO(r.message);
    CHECK(r.verdict == Verdict::compile_error);
    CHECK_FALSE(r.build_cached);
    CHECK(r.message.find("frobnicate_layers") != std::string::npos);
  }

  TEST_CASE("speculative_build: a submit while the build of its content runs joins it instead of compiling twice") {
    SpeculatingExam exam("join");
    const std::string text = exam.source("a");
    exam.save(text);
    // The speculative build holds the entry (its lock) before the submit.
    REQUIRE(exam.run_until([&] { return exam.counts().started == 1 && exam.building(text); }));
    const GradeResult r = exam.submit_and_wait();
    INFO(r.message);
    CHECK(r.verdict != Verdict::compile_error);
    CHECK(r.verdict != Verdict::internal_error);
    CHECK(r.build_cached);  // the entry the speculative build finished while the grading waited
    CHECK(exam.counts().built == 1);
    CHECK(exam.counts().cancelled == 0);
  }

  TEST_CASE("speculative_build: a local grading cancels a build of other content, which starts again after it") {
    SpeculatingExam exam("grading");
    exam.save(exam.source("a"));
    REQUIRE(exam.run_until([&] { return exam.counts().started == 1; }));
    exam.hold = true;
    const int64_t id = exam.service->submit(exam.session, "fashion_mnist");  // other content
    REQUIRE(exam.run_until([&] { return exam.counts().cancelled == 1 && !exam.counts().built; }));
    // Nothing starts while the grading runs.
    REQUIRE(exam.run_until([&] { return exam.counts().deferred >= 1; }));
    CHECK(exam.counts().started == 1);
    CHECK(exam.service->queue_position(id) == 0);
    REQUIRE(exam.service->cancel(id));
    REQUIRE(exam.run_until([&] { return exam.counts().built == 1; }));
    CHECK(exam.counts().started == 2);
    exam.hold = false;
  }
}
