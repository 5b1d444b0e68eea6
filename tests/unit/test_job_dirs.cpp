// Job folders: the newest stay, folders in use stay, the rest are pruned.
#include "grading/grader.hpp"
#include "grading/job_dirs.hpp"

#include "idx_writer.hpp"  // temp_dir

#include <doctest/doctest.h>

#include <chrono>
#include <fstream>

using namespace torchexam;
namespace fs = std::filesystem;

TEST_SUITE("job_dirs") {
  TEST_CASE("pruning keeps the newest folders and every folder in use, and removes the rest") {
    const fs::path jobs = test::temp_dir("jobs");
    const auto now = fs::file_time_type::clock::now();
    for (int i = 0; i < 8; ++i) {
      const fs::path d = jobs / ("job-" + std::to_string(i));
      fs::create_directories(d / "train");
      std::ofstream(d / "train" / "output.log") << std::string(1000, 'x');
      fs::last_write_time(d, now - std::chrono::hours(8 - i));  // job-7 is the newest
    }
    std::ofstream(jobs / "a-file") << "not a folder";
    fs::create_directories(jobs / "someone-else");  // not ours to prune
    fs::last_write_time(jobs / "someone-else", now - std::chrono::hours(20));
    const auto ours = [](const std::string& name) { return name.rfind("job-", 0) == 0; };
    PruneReport r;
    {
      const JobDirInUse busy(jobs / "job-0");  // the oldest, but a grading works in it
      fs::last_write_time(jobs / "job-0", now - std::chrono::hours(8));
      r = prune_job_dirs(jobs, 3, ours);
    }
    CHECK(r.removed == 4);  // job-1 .. job-4
    CHECK(r.bytes >= 4000);
    CHECK(r.errors.empty());
    CHECK(fs::exists(jobs / "job-0"));
    for (int i = 1; i <= 4; ++i) CHECK_FALSE(fs::exists(jobs / ("job-" + std::to_string(i))));
    for (int i = 5; i <= 7; ++i) CHECK(fs::exists(jobs / ("job-" + std::to_string(i))));
    CHECK(fs::exists(jobs / "a-file"));
    CHECK(fs::exists(jobs / "someone-else"));

    // Once released, the old folder goes at the next pruning.
    r = prune_job_dirs(jobs, 3, ours);
    CHECK(r.removed == 1);
    CHECK_FALSE(fs::exists(jobs / "job-0"));
    CHECK(prune_job_dirs(jobs / "missing", 3, ours).removed == 0);
    CHECK(is_grade_job_dir("20261205-012604-time_series-d01af0"));
    CHECK_FALSE(is_grade_job_dir("12-1"));
    fs::remove_all(jobs);
  }
}
