// The exam service under test (test_exam_service.cpp, test_rejudge.cpp):
// a fake clock, a fake grader that reads "score N" from the source, a
// store in a temporary folder, and the io loop stepped by the test.
#pragma once

#include "base/hash.hpp"
#include "exam/exam_service.hpp"
#include "idx_writer.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <sched.h>
#include <sys/resource.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace torchexam::test {
namespace fs = std::filesystem;

inline const fs::path kEnv = fs::path(TORCHEXAM_SOURCE_DIR) / "environments" / "practice";

// Grades by reading "score N" from the source; blocks while `hold` is set,
// until cancelled.
struct FakeGrader {
  std::atomic<bool> hold{false};
  std::atomic<int> started{0};
  // The scheduling of the thread the last job ran on (its compiler and
  // runner inherit it).
  std::atomic<int> policy{-1}, nice{-100};
  std::optional<TaskDiagnostics> diagnostics;  // given to every result; set before the first job
  std::atomic<int> bonus{0};                   // added to every score read from a source (a regrade that differs)
  std::optional<Fingerprint> fingerprint;      // given to every result; set before the first job
  GradeResult operator()(const GradeRequest& req, GradeObserver& obs) {
    ++started;
    policy = ::sched_getscheduler(0);
    errno = 0;
    nice = ::getpriority(PRIO_PROCESS, 0);
    obs.phase("train");
    events::Progress p;
    p.kind = events::Progress::Kind::epoch;
    p.epoch = 1;
    p.epochs = 1;
    p.loss = 0.5;
    obs.event(p);
    while (hold.load()) {
      if (req.cancel && req.cancel->load()) {
        GradeResult r;
        r.cancelled = true;
        return r;
      }
      std::this_thread::yield();
    }
    const std::string src = read_file(req.source);
    GradeResult r;
    r.verdict = Verdict::ok;
    r.metric_name = "accuracy";
    const auto pos = src.find("score ");
    r.score = (pos == std::string::npos ? 0 : src[pos + 6] - '0') + bonus.load();
    r.fingerprint = fingerprint;
    r.metric = r.score / 5.0;
    r.message = "fake";
    r.task_diagnostics = diagnostics;
    if (!req.job_dir.empty()) {  // a checkpoint, as the runner leaves one
      fs::create_directories(req.job_dir / "train");
      std::ofstream(req.job_dir / "train" / "checkpoint.pt") << "weights of " << src;
      r.job_dir = req.job_dir;
    }
    return r;
  }
};

struct Recorder final : ExamListener {
  std::vector<std::optional<int>> warnings;
  int timer_notes = 0;
  int closed = 0;
  std::vector<store::SubmissionRecord> finished;
  std::vector<Stage> stages;
  void on_timer(const store::SessionRecord&, double, std::optional<int> w) override {
    ++timer_notes;
    if (w) warnings.push_back(w);
  }
  void on_closed(const store::SessionRecord&) override { ++closed; }
  void on_finished(const store::SubmissionRecord& r) override { finished.push_back(r); }
  void on_progress(const ProgressNote& n) override { stages.push_back(n.stage); }
  std::vector<RejudgeProgress> rejudges;
  void on_rejudge(const RejudgeProgress& p) override { rejudges.push_back(p); }
};

struct Fixture {
  fs::path root = test::temp_dir("service");
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard = boost::asio::make_work_guard(io);
  FakeClock clock;
  FakeGrader grader;
  std::unique_ptr<store::Store> db = store::Store::open(root / "state");
  std::unique_ptr<ExamService> service;
  Recorder rec;
  VerifyFn verify;  // set, then make_service(), to check the environment at start
  int job_nice = 0;  // set, then make_service()
  RescoreFn rescore;  // set, then make_service(); empty: the real one
  fs::path environment = kEnv;  // set before start()

  Fixture() { make_service(); }
  ~Fixture() {
    service.reset();
    fs::remove_all(root);
  }
  void make_service() {
    ServiceOptions o;
    o.jobs_dir = root / "jobs";
    o.cache_dir = root / "cache";
    o.verify = verify;
    o.state_dir = root / "state";
    o.job_nice = job_nice;
    o.rescore = rescore;
    service = std::make_unique<ExamService>(io, clock, *db, o,
                                            [this](const GradeRequest& r, GradeObserver& ob) { return grader(r, ob); });
    service->add_listener(&rec);
  }
  // Steps the loop until cond() holds; false after 10 s.
  template <class F>
  bool run_until(F&& cond) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!cond()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io.run_one_for(std::chrono::milliseconds(5));
    }
    return true;
  }
  ExamSummary start(const std::string& mode = "practice") {
    StartOptions o;
    o.environment = environment;
    o.workspace = root / "ws";
    o.mode = mode;
    return service->start(o);
  }
  void write_solution(const std::string& text) { std::ofstream(root / "ws" / "fashion_mnist" / "solution.cpp") << text; }
};

}  // namespace torchexam::test
