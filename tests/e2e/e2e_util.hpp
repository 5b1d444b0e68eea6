// Helpers of the end-to-end tests: grade a solution through the torchexam
// CLI (--json) and look for processes a job may have left behind.
#pragma once

#include "run_cli.hpp"

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <dirent.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace torchexam::e2e {

namespace fs = std::filesystem;
namespace json = boost::json;

inline const fs::path kSource = TORCHEXAM_SOURCE_DIR;
inline const fs::path kCli = TORCHEXAM_CLI;

struct Graded {
  json::object result;
  int exit_code = -1;
  std::string stderr_text;
};

inline Graded grade(const fs::path& solution, std::vector<std::string> extra, const std::string& task = "fashion_mnist") {
  std::vector<std::string> args = {"grade", (kSource / "environments/practice").string(), task, solution.string(),
                                   "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const test::CliRun run = test::run_cli(kCli, std::move(args));
  Graded g;
  g.exit_code = run.exit_code;
  g.stderr_text = run.err;
  json::error_code ec;
  auto v = json::parse(run.out, ec);
  INFO("stdout: " << run.out);
  INFO("stderr: " << g.stderr_text);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  g.result = v.get_object();
  return g;
}

inline std::string str(const json::object& o, const char* key) { return std::string(o.at(key).as_string()); }

// The full-data grading of a task's reference that CTest shares (fixture
// torchexam_reference_<task>, tests/CMakeLists.txt): slow.<task>.grade_reference
// grades it once and stores the CLI's --json result in this file; the tests
// that need a local grading of the reference read it instead of training again.
// `reduced`: the grading of the reference on reduced data
// (kReducedReferenceArgs) that e2e.repeat_identical makes and stores
// (fixture torchexam_reference_<task>_reduced), for fashion_mnist, whose
// full-data grading takes about 3 minutes.
inline const std::vector<std::string> kReducedReferenceArgs = {"--limit", "1000"};

inline fs::path shared_reference_file(const std::string& task, bool reduced = false) {
  const char* dir = std::getenv("TORCHEXAM_REFERENCE_DIR");
  REQUIRE_MESSAGE(dir, "TORCHEXAM_REFERENCE_DIR is not set: run this test through ctest (fixture torchexam_reference_"
                           << task << (reduced ? "_reduced" : "") << ")");
  return fs::path(dir) / (task + (reduced ? "-reduced" : "") + ".json");
}

// Stores a grading's result for the tests that share it: whole or not at all.
inline void store_shared_reference(const fs::path& file, const json::object& result) {
  fs::create_directories(file.parent_path());
  const fs::path partial = file.string() + ".partial";
  std::ofstream out(partial);
  out << json::serialize(result);
  out.close();
  REQUIRE_FALSE(out.fail());
  fs::rename(partial, file);
}

// That stored result. Fails the test when the fixture did not write it.
inline json::object shared_reference(const std::string& task, bool reduced = false) {
  const fs::path file = shared_reference_file(task, reduced);
  std::ifstream in(file);
  REQUIRE_MESSAGE(in, "no " << file << ": the test that grades it (fixture torchexam_reference_" << task
                            << (reduced ? "_reduced" : "") << ") did not run");
  const std::string text(std::istreambuf_iterator<char>(in), {});
  json::error_code ec;
  json::value v = json::parse(text, ec);
  INFO(file << ": " << text);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  return std::move(v.get_object());
}

// Processes whose command name is `comm`.
inline std::vector<int> processes_named(const std::string& comm) {
  std::vector<int> pids;
  DIR* d = opendir("/proc");
  while (dirent* e = d ? readdir(d) : nullptr) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(f, name) && name == comm) pids.push_back(pid);
  }
  if (d) closedir(d);
  return pids;
}

}  // namespace torchexam::e2e
