// Grading on a real Slurm cluster (scripts/slurm-up, the CTest fixture
// torchexam_slurm): the same scores as the local backend, the same verdicts
// for hostile solutions, cancel, and a burst of submissions through the
// daemon with a kill -9 in the middle, graded exactly once.
//
// Each case copies the practice environment and adds
//   grading: {backend: slurm, slurm: {shared_dir: <its own folder>, ...}}
// No mocks: sbatch, squeue, scancel and sacct of the test cluster.
#include <doctest/doctest.h>

#include "../e2e/daemon_util.hpp"
#include "../e2e/e2e_util.hpp"
#include "../test_util.hpp"
#include "grading/runner_launch.hpp"
#include "slurm_util.hpp"

#include <boost/json.hpp>

#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using namespace torchexam::test;
using torchexam::e2e::processes_named;
using torchexam::e2e::str;

namespace {

const fs::path kSource = TORCHEXAM_SOURCE_DIR;
const fs::path kCli = TORCHEXAM_CLI;

struct Graded {
  json::object result;
  std::string err;
};

Graded grade(const SlurmEnvironment& e, const std::string& task, const fs::path& source,
             std::vector<std::string> extra) {
  std::vector<std::string> args = {"grade", e.env.string(), task, source.string(), "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const CliRun run = run_cli(kCli, args);
  INFO("stderr: " << run.err);
  json::error_code ec;
  auto v = json::parse(run.out, ec);
  REQUIRE_FALSE(ec);
  return {v.as_object(), run.err};
}

std::string task_under_test() {
  const char* t = std::getenv("TORCHEXAM_TEST_TASK");
  REQUIRE_MESSAGE(t, "set TORCHEXAM_TEST_TASK to the task to grade");
  return t;
}

// Jobs squeue lists that have not ended.
int unfinished_jobs() {
  const CliRun run = run_cli("/usr/bin/squeue", {"-h", "-t", "PENDING,RUNNING,CONFIGURING,COMPLETING", "-o", "%i"});
  int n = 0;
  std::istringstream in(run.out);
  for (std::string line; std::getline(in, line);) n += !line.empty();
  return n;
}

// The test cluster's node, put back in service (State=RESUME) when this
// goes out of scope, whatever a test did to it, for the cases after it.
struct TestNode {
  std::string name;
  TestNode() {
    const CliRun nodes = run_cli("/usr/bin/sinfo", {"-h", "-o", "%N"});
    name = nodes.out.substr(0, nodes.out.find('\n'));
  }
  ~TestNode() { set_state("RESUME"); }
  TestNode(const TestNode&) = delete;
  TestNode& operator=(const TestNode&) = delete;
  // scontrol's exit code.
  int set_state(const std::string& state, const std::string& reason = "") const {
    std::vector<std::string> args = {"update", "NodeName=" + name, "State=" + state};
    if (!reason.empty()) args.push_back("Reason=" + reason);
    return run_cli("/usr/bin/scontrol", args).exit_code;
  }
};

// Starts the daemon and a practice exam on `e`, with `solution` as the task's solution.cpp.
std::unique_ptr<Client> start_exam(Daemon& d, const SlurmEnvironment& e, const std::string& task,
                                   const fs::path& solution) {
  REQUIRE_FALSE(d.start());
  auto c = d.client();
  c->call("exam/start", json::object{{"environment", e.env.string()},
                                     {"workspace", (d.root / "ws").string()},
                                     {"mode", "practice"}});
  fs::copy_file(solution, d.root / "ws" / task / "solution.cpp", fs::copy_options::overwrite_existing);
  return c;
}

}  // namespace

TEST_SUITE("slurm") {
  // The local grading is the one the fixture torchexam_reference_<task>
  // stored (slow.<task>.grade_reference): the same reference, graded once on
  // this machine by the local backend, shared rather than trained again.
  TEST_CASE("a reference graded through Slurm gets the verdict and score it gets locally") {
    SlurmEnvironment e("same");
    const std::string task = task_under_test();
    const fs::path reference = kSource / "environments/practice" / task / "reference.cpp";
    // On reduced data where CTest says so (fashion_mnist: 3 minutes a full
    // grading), against the local grading on the same data.
    const bool reduced = std::getenv("TORCHEXAM_REFERENCE_REDUCED") != nullptr;
    const Graded remote =
        grade(e, task, reference, reduced ? torchexam::e2e::kReducedReferenceArgs : std::vector<std::string>{});
    const json::object local = torchexam::e2e::shared_reference(task, reduced);
    INFO("local: " << json::serialize(local));
    INFO("slurm: " << json::serialize(remote.result));
    CHECK(str(remote.result, "backend") == "slurm");
    CHECK(str(local, "backend") == "local");
    CHECK(str(remote.result, "verdict") == "ok");
    CHECK(str(remote.result, "verdict") == str(local, "verdict"));
    CHECK(remote.result.at("score").as_int64() == local.at("score").as_int64());
    CHECK(remote.result.at("metric").as_double() == doctest::Approx(local.at("metric").as_double()).epsilon(1e-6));
    // Train and evaluate really were batch jobs, and they completed.
    const fs::path job_dir = str(remote.result, "job_dir");
    CHECK(job_dir.string().rfind(e.shared.string(), 0) == 0);
    for (const char* phase : {"train", "evaluate"}) {
      CAPTURE(phase);
      const json::value ledger = ledger_of(job_dir, phase);
      REQUIRE(ledger.is_object());
      CHECK(ledger.at("state") == "done");
      const auto log = completion_log();
      auto it = log.find(std::string(ledger.at("name").as_string()));
      REQUIRE(it != log.end());
      CHECK(it->second == std::vector<std::string>{"COMPLETED"});
    }
  }

  TEST_CASE("a memory hog gets memory_limit on the cluster") {
    SlurmEnvironment e("hog");
    const Graded g = grade(e, "fashion_mnist", kSource / "tests/solutions/memory_hog.cpp", {"--limit", "200", "--budget", "30"});
    CHECK(str(g.result, "backend") == "slurm");
    CHECK(str(g.result, "verdict") == "memory_limit");
    CHECK(str(g.result, "message").find("memory limit of 4.0 GiB") != std::string::npos);
  }

  TEST_CASE("an endless loop gets timeout on the cluster and leaves no process") {
    SlurmEnvironment e("endless");
    REQUIRE(processes_named("texam_orphan").empty());
    const Graded g = grade(e, "fashion_mnist", kSource / "tests/solutions/endless.cpp", {"--limit", "200", "--budget", "3"});
    CHECK(str(g.result, "backend") == "slurm");
    CHECK(str(g.result, "verdict") == "timeout");
    // The deadline is the harness's own wall limit, budget + grace to the
    // second, not Slurm's minute (the limit is checked, not how long
    // stopping took on a busy machine).
    CHECK(g.result.at("timings").at("train_s").as_double() >= 3);
    CHECK(g.result.at("limits").at("wall_s").as_double() == doctest::Approx(3 + torchexam::runner_grace(3)));
    const bool gone = wait_for([] { return processes_named("texam_orphan").empty(); }, std::chrono::seconds(30));
    if (!gone)
      for (int pid : processes_named("texam_orphan")) kill(pid, SIGKILL);
    CHECK(gone);
  }

  TEST_CASE("a job whose node fails is run again, and the submission graded once") {
    SlurmEnvironment e("nodefail");
    const TestNode node;
    REQUIRE_FALSE(node.name.empty());
    Graded g;
    std::thread grading([&] {
      g = grade(e, "fashion_mnist", kSource / "tests/solutions/slow_train.cpp", {"--limit", "500", "--budget", "60"});
    });
    // Once training runs in its batch job, the node fails under it.
    const bool training = wait_for([] { return count_processes("torchexam-runne") > 0; }, std::chrono::seconds(240));
    if (training) {
      CHECK(node.set_state("DOWN", "torchexam-test") == 0);
      CHECK(wait_for([] { return count_processes("torchexam-runne") == 0; }, std::chrono::seconds(60)));
      // The test cluster may return a responding node to service by itself
      // (then RESUME is refused as an invalid transition); either way it
      // must be up again.
      node.set_state("RESUME");
      CHECK(wait_for(
          [] {
            const CliRun s = run_cli("/usr/bin/sinfo", {"-h", "-o", "%t"});
            return s.exit_code == 0 && s.out.find("down") == std::string::npos &&
                   s.out.find("drain") == std::string::npos;
          },
          std::chrono::seconds(60)));
    }
    grading.join();
    REQUIRE(training);
    CHECK(str(g.result, "verdict") == "ok");
    // The training ran twice (Slurm requeued it, or the backend submitted it
    // again), the evaluation once, and there is one result.
    const fs::path job_dir = str(g.result, "job_dir");
    const json::value train = ledger_of(job_dir, "train");
    REQUIRE(train.is_object());
    CHECK(train.at("state") == "done");
    const auto log = completion_log();
    const std::string name(train.at("name").as_string());
    const std::string stem = name.substr(0, name.rfind('-'));
    int runs = 0;
    for (const auto& [job_name, states] : log)
      if (job_name.rfind(stem, 0) == 0) runs += static_cast<int>(states.size());
    CHECK(runs == 2);
    // Either Slurm requeued the same job id, or the backend saw NODE_FAIL and
    // submitted it again (and said so on stderr).
    const bool resubmitted = g.err.find("submitting it again") != std::string::npos;
    const bool requeued = train.at("submissions").to_number<int64_t>() == 1;
    CHECK((resubmitted || requeued));
  }

  TEST_CASE("a cancelled submission leaves no process on the cluster") {
    SlurmEnvironment e("cancel");
    Daemon d("slurm-cancel");
    auto c = start_exam(d, e, "fashion_mnist", kSource / "tests/solutions/endless.cpp");
    REQUIRE(processes_named("texam_orphan").empty());
    const int64_t id = field_int(c->call("task/submit", json::object{{"task", "fashion_mnist"}}), "submission");
    // Training runs as a Slurm job: the solution's setsid() child is there.
    REQUIRE(wait_for([] { return !processes_named("texam_orphan").empty(); }, std::chrono::seconds(180)));
    c->call("submission/cancel", json::object{{"submission", id}});
    const bool cancelled = wait_for(
        [&] {
          auto s = c->call("submission/get", json::object{{"submission", id}});
          return json::value_to<std::string>(s.at("state")) == "cancelled";
        },
        std::chrono::seconds(60));
    CHECK(cancelled);
    const bool gone = wait_for([] { return processes_named("texam_orphan").empty(); }, std::chrono::seconds(30));
    if (!gone)
      for (int pid : processes_named("texam_orphan")) kill(pid, SIGKILL);
    CHECK(gone);
    CHECK(wait_for([] { return count_processes("torchexam-runne") == 0; }, std::chrono::seconds(30)));
  }

  // 20 submissions (TORCHEXAM_BURST sets another number): five times the
  // cluster's 4 slots. The first is graded alone (its build warms the
  // cache); the other 19 are handed to Slurm while its node is drained, so
  // that it queues them; a fifth of all graded before the kill -9 leaves 16
  // in flight or queued across it.
  TEST_CASE("a burst of submissions is graded exactly once, across a kill -9 of the daemon") {
    const int n = [] {
      const char* v = std::getenv("TORCHEXAM_BURST");
      return v ? std::atoi(v) : 20;
    }();
    SlurmEnvironment e("burst", /*own_shared_dir=*/true);  // its jobs/ holds only the burst's
    Daemon d("slurm-burst");
    auto c = start_exam(d, e, "regression", kSource / "environments/practice/regression/reference.cpp");
    auto finished_count = [&] {
      int done = 0;
      const json::value list = c->call("submission/list", json::object{{"task", "regression"}});
      for (const auto& s : list.at("submissions").as_array())
        done += json::value_to<std::string>(s.at("state")) == "finished";
      return done;
    };
    // The first submission builds the solution (a Slurm job too) and stages
    // the data; the rest find both in the cache.
    field_int(c->call("task/submit", json::object{{"task", "regression"}}), "submission");
    REQUIRE(wait_for([&] { return finished_count() == 1; }, std::chrono::seconds(600)));

    // While the node is drained, Slurm holds every training job handed to
    // it as pending with a queue position, which the daemon reports; once
    // it is back, the node works through the burst four jobs at a time.
    const TestNode node;
    REQUIRE_FALSE(node.name.empty());
    REQUIRE(node.set_state("DRAIN", "torchexam-burst") == 0);
    for (int i = 1; i < n; ++i) field_int(c->call("task/submit", json::object{{"task", "regression"}}), "submission");

    // Queue positions come from Slurm once a submission's phase is handed to it.
    std::set<int64_t> staged;
    int slurm_queued = 0;
    const bool queued = wait_for(
        [&] {
          while (auto note = c->next_notification(std::chrono::milliseconds(0))) {
            if (note->method != "submission/progress") continue;
            const auto& p = note->params.as_object();
            const std::string stage(p.at("stage").as_string());
            const int64_t sid = p.at("submission").to_number<int64_t>();
            if (stage != "queued") staged.insert(sid);
            else if (staged.count(sid) && p.at("queue_position").to_number<int64_t>() > 0) ++slurm_queued;
          }
          return slurm_queued > 0;
        },
        std::chrono::seconds(600));
    REQUIRE(node.set_state("RESUME") == 0);
    REQUIRE(queued);
    REQUIRE(wait_for([&] { return finished_count() >= n / 5; }, std::chrono::seconds(600)));

    // Kill the daemon while Slurm still holds jobs it submitted.
    REQUIRE(unfinished_jobs() > 0);
    d.kill9();
    c.reset();
    CHECK(unfinished_jobs() > 0);  // the cluster's jobs outlive the daemon
    REQUIRE_FALSE(d.start());
    c = d.client();
    const bool all = wait_for([&] { return finished_count() == n; }, std::chrono::seconds(900));
    REQUIRE(all);

    int first_score = -1;
    const json::value list = c->call("submission/list", json::object{{"task", "regression"}});
    for (const auto& s : list.at("submissions").as_array()) {
      CAPTURE(json::serialize(s));
      CHECK(json::value_to<std::string>(s.at("verdict")) == "ok");
      const int score = static_cast<int>(s.at("score").to_number<int64_t>());
      if (first_score < 0) first_score = score;
      CHECK(score == first_score);
    }
    // Exactly once: one train and one evaluate job per submission, each run
    // once (a resubmission would carry a new name, a requeue a second state).
    // The ledger may count a second sbatch: one that the kill -9 stopped
    // before Slurm took the job (squeue, asked after the restart, did not
    // list its name) is submitted again; what must hold is that one job ran.
    const auto log = completion_log();
    int jobs_dirs = 0;
    for (const auto& entry : fs::directory_iterator(e.shared / "jobs")) {
      const json::value train = ledger_of(entry.path(), "train");
      if (!train.is_object()) continue;
      ++jobs_dirs;
      for (const char* phase : {"train", "evaluate"}) {
        CAPTURE(entry.path());
        CAPTURE(std::string(phase));
        const json::value ledger = ledger_of(entry.path(), phase);
        REQUIRE(ledger.is_object());
        CHECK(ledger.at("state") == "done");
        CHECK(ledger.at("submissions").to_number<int64_t>() >= 1);
        CHECK(ledger.at("submissions").to_number<int64_t>() <= 2);  // at most the one sbatch the kill cut short
        const std::string name(ledger.at("name").as_string());
        auto it = log.find(name);
        REQUIRE(it != log.end());
        CHECK(it->second == std::vector<std::string>{"COMPLETED"});
        // No other job ran this phase of this submission.
        const std::string stem = name.substr(0, name.rfind('-'));
        int runs = 0;
        for (const auto& [job_name, states] : log)
          if (job_name.rfind(stem, 0) == 0) runs += static_cast<int>(states.size());
        CHECK(runs == 1);
      }
    }
    CHECK(jobs_dirs == n);
  }

  // Issue 20: a retrain of a submission graded on the cluster, run on the
  // cluster again (the environment's backend), gives its verdict, score and
  // metric, the same as a local grading; applied, the submission's result
  // says where it was graded.
  TEST_CASE("a regrade --retrain through Slurm reproduces the score graded there") {
    SlurmEnvironment e("regrade");
    Daemon d("slurm-regrade");
    auto c = start_exam(d, e, "regression", kSource / "environments/practice/regression/reference.cpp");
    const int64_t id = field_int(c->call("task/submit", json::object{{"task", "regression"}}), "submission");
    json::value graded;
    REQUIRE(wait_for(
        [&] {
          graded = c->call("submission/get", json::object{{"submission", id}});
          return json::value_to<std::string>(graded.at("state")) == "finished";
        },
        std::chrono::seconds(600)));
    REQUIRE(json::value_to<std::string>(graded.at("verdict")) == "ok");
    const json::value set = c->call("rejudge/create", json::object{{"kind", "retrain"}, {"submission", id}});
    const int64_t rejudge = field_int(set, "rejudge");
    json::value review;
    REQUIRE(wait_for(
        [&] {
          review = c->call("rejudge/get", json::object{{"rejudge", rejudge}});
          return json::value_to<std::string>(review.at("state")) == "review";
        },
        std::chrono::seconds(600)));
    const json::value& row = review.at("rows").at(0);
    CAPTURE(json::serialize(row));
    CHECK(row.at("new").at("verdict") == graded.at("verdict"));
    CHECK(row.at("new").at("score") == graded.at("score"));
    CHECK(row.at("new").at("metric").to_number<double>() == graded.at("metric").to_number<double>());
    // ... and what the same source gets graded locally (the shared full-data
    // grading of the reference, fixture torchexam_reference_regression).
    const json::object local = torchexam::e2e::shared_reference("regression");
    CHECK(str(local, "backend") == "local");
    CHECK(row.at("new").at("score").to_number<int64_t>() == local.at("score").as_int64());
    CHECK(row.at("new").at("metric").to_number<double>() ==
          doctest::Approx(local.at("metric").as_double()).epsilon(1e-6));
    c->call("rejudge/apply", json::object{{"rejudge", rejudge}});
    const json::value applied = c->call("submission/get", json::object{{"submission", id}});
    CHECK(json::value_to<std::string>(applied.at("result").at("backend")) == "slurm");
    CHECK(applied.at("score") == graded.at("score"));
  }
}
