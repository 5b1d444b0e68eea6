// The Slurm backend's pure parts: squeue/sacct parsing across releases, the
// sbatch arguments, and the batch script (run here with bash).
#include <doctest/doctest.h>

#include "base/hash.hpp"
#include "grading/backend/slurm_backend.hpp"
#include "grading/backend/slurm_cli.hpp"

#include "fake_launcher.hpp"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

namespace fs = std::filesystem;
using namespace torchexam;
using namespace torchexam::slurm;

TEST_SUITE("slurm_cli") {
  TEST_CASE("squeue --json of 22.05: plain numbers, a state string, the raw wait status") {
    const auto jobs = parse_squeue_json(R"({"meta":{},"errors":[],"jobs":[
      {"job_id":7,"name":"torchexam-train-abc-1","job_state":"PENDING","state_reason":"Priority",
       "partition":"exam","priority":4294901759,"submit_time":1700000000,"start_time":0,"exit_code":0,
       "restart_cnt":0},
      {"job_id":8,"name":"b","job_state":"COMPLETED","exit_code":768,"partition":"exam"},
      {"job_id":9,"name":"c","job_state":"CANCELLED","exit_code":9,"partition":"exam"}]})");
    REQUIRE(jobs.size() == 3);
    CHECK(jobs[0].id == 7);
    CHECK(jobs[0].name == "torchexam-train-abc-1");
    CHECK(jobs[0].state == "PENDING");
    CHECK(jobs[0].reason == "Priority");
    CHECK(jobs[0].priority == 4294901759LL);
    CHECK(jobs[0].submit_time == 1700000000);
    CHECK(jobs[1].exit_code == 3);           // 768 = exit 3
    CHECK_FALSE(jobs[2].exit_code.has_value());  // 9 = killed by SIGKILL
  }

  TEST_CASE("squeue --json of 23.02+: {set, number} objects and a state list") {
    const auto jobs = parse_squeue_json(R"({"jobs":[
      {"job_id":12,"name":"x","job_state":["RUNNING"],"priority":{"set":true,"infinite":false,"number":100},
       "start_time":{"set":true,"number":1700000100},"end_time":{"set":false,"number":0},
       "exit_code":{"status":["SUCCESS"],"return_code":{"set":true,"number":0}},"partition":"exam"}]})");
    REQUIRE(jobs.size() == 1);
    CHECK(jobs[0].state == "RUNNING");
    CHECK(jobs[0].priority == 100);
    CHECK(jobs[0].start_time == 1700000100);
    CHECK(jobs[0].end_time == 0);
    CHECK(jobs[0].exit_code == 0);
  }

  TEST_CASE("squeue output that is not its JSON is an error naming what was wrong") {
    CHECK_THROWS_WITH_AS(parse_squeue_json("slurm_load_jobs error: Unable to contact slurm controller"),
                         doctest::Contains("not JSON"), SlurmError);
    CHECK_THROWS_WITH_AS(parse_squeue_json(R"({"meta":{}})"), "squeue --json: .jobs: missing (an array is required)",
                         SlurmError);
  }

  TEST_CASE("a squeue field of a shape no release writes is an error naming the job and the field") {
    CHECK_THROWS_WITH_AS(parse_squeue_json(R"({"jobs":[{"job_id":7},{"job_id":8,"priority":"high"}]})"),
                         R"(squeue --json: .jobs[1].priority: expected a number or {"set", "number"})", SlurmError);
    CHECK_THROWS_WITH_AS(parse_squeue_json(R"({"jobs":[{"job_id":7,"job_state":[3]}]})"),
                         "squeue --json: .jobs[0].job_state[0]: expected a string", SlurmError);
    CHECK_THROWS_WITH_AS(parse_squeue_json(R"({"jobs":[{"name":"no id"}]})"),
                         "squeue --json: .jobs[0].job_id: missing (a number is required)", SlurmError);
    CHECK_THROWS_WITH_AS(parse_squeue_json(R"({"jobs":[7]})"), "squeue --json: .jobs[0]: expected an object",
                         SlurmError);
    // An unset id (23.02+) is a job squeue could not name: skipped.
    CHECK(parse_squeue_json(R"({"jobs":[{"job_id":{"set":false,"number":0}}]})").empty());
  }

  TEST_CASE("a resumed phase whose job ledger does not read is an error naming the file and the field") {
    std::random_device rd;
    const fs::path dir = fs::temp_directory_path() / ("torchexam-ledger-" + std::to_string(rd()));
    fs::create_directories(dir / ".slurm-train");
    const fs::path ledger = dir / ".slurm-train" / "ledger.json";
    std::ofstream(ledger) << R"({"job_id":"41","script_hash":"x","name":"n","state":"submitted","submissions":1,)"
                             R"("timed_out":false,"memory_exceeded":false,"note":""})";
    test::FakeLauncher launcher;  // no command may run: a second submission could run the phase twice
    config::Grading::Slurm cfg;
    cfg.shared_dir = dir;
    cfg.user.clear();
    SlurmBackend backend(cfg, launcher);
    PhaseJob job;
    job.process.exe = "/bin/true";
    job.process.stderr_file = dir / "err";
    job.phase = "train";
    job.output_dirs = {dir};
    job.resume = true;
    CHECK_THROWS_WITH(
        backend.run(job, [](std::string_view) {}),
        doctest::Contains(("the Slurm job ledger " + ledger.string() + ": .job_id: expected an integer").c_str()));
    CHECK(launcher.commands().empty());
    fs::remove_all(dir);
  }

  TEST_CASE("sacct -c lines: the job line, not its steps") {
    auto j = parse_sacct_line("42|torchexam-evaluate-ab-1|OUT_OF_MEMORY|0:125");
    REQUIRE(j);
    CHECK(j->id == 42);
    CHECK(j->state == "OUT_OF_MEMORY");
    CHECK(j->exit_code == 0);
    auto c = parse_sacct_line("43|x|CANCELLED by 0|0:15");
    REQUIRE(c);
    CHECK(c->state == "CANCELLED");
    CHECK_FALSE(parse_sacct_line("43.batch|batch|COMPLETED|0:0"));
    CHECK_FALSE(parse_sacct_line("JobID|JobName|State|ExitCode"));
    CHECK_FALSE(parse_sacct_line(""));
  }

  TEST_CASE("final states") {
    for (const char* s : {"COMPLETED", "FAILED", "TIMEOUT", "OUT_OF_MEMORY", "CANCELLED", "NODE_FAIL"}) CHECK(is_final(s));
    for (const char* s : {"PENDING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED", ""}) CHECK_FALSE(is_final(s));
  }

  TEST_CASE("sbatch gets the limits, --requeue, and the job's user only when root") {
    Submission s;
    s.name = "torchexam-train-abc-1";
    s.output = "/shared/j/.slurm-train/slurm.out";
    s.partition = "exam";
    s.cpus = 2;
    s.memory_mib = 4352;
    s.time_minutes = 12;
    s.uid = "65534";
    s.gid = "65534";
    s.extra_args = {"--qos=exam"};
    const auto a = Tools::sbatch_args(s);
    auto has = [&](const std::string& x) { return std::find(a.begin(), a.end(), x) != a.end(); };
    CHECK(has("--parsable"));
    CHECK(has("--job-name=torchexam-train-abc-1"));
    CHECK(has("--cpus-per-task=2"));
    CHECK(has("--mem=4352M"));
    CHECK(has("--time=12"));
    CHECK(has("--partition=exam"));
    CHECK(has("--requeue"));
    CHECK(has("--qos=exam"));
    CHECK(has("--uid=65534") == (geteuid() == 0));
  }

  TEST_CASE("the batch script runs the command with its environment and leaves stdout and the exit status") {
    std::random_device rd;
    const fs::path dir = fs::temp_directory_path() / ("torchexam-batch-" + std::to_string(rd()));
    fs::create_directories(dir / "work dir");
    ProcessSpec spec;
    spec.exe = "/bin/sh";
    spec.args = {"-c", "echo \"$GREETING it's $(basename \"$PWD\")\"; echo oops >&2; exit 3"};
    spec.env = {{"GREETING", "hello 'quoted'"}};
    spec.cwd = dir / "work dir";
    spec.stderr_file = dir / "err";
    const fs::path script = dir / "job.sh";
    std::ofstream(script) << batch_script(spec, dir / "stdout", dir / "exit");
    REQUIRE(std::system(("bash '" + script.string() + "'").c_str()) == 0);  // the job itself succeeds
    CHECK(read_file(dir / "stdout") == "hello 'quoted' it's work dir\n");
    CHECK(read_file(dir / "err") == "oops\n");
    CHECK(read_file(dir / "exit") == "3\n");

    SUBCASE("a signal is 128 + its number") {
      spec.args = {"-c", "kill -9 $$"};
      std::ofstream(script) << batch_script(spec, dir / "stdout", dir / "exit");
      REQUIRE(std::system(("bash '" + script.string() + "'").c_str()) == 0);
      CHECK(read_file(dir / "exit") == "137\n");
    }
    fs::remove_all(dir);
  }
}
