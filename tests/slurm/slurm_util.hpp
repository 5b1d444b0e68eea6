// Helpers of the tests that grade on the Slurm test cluster (test_slurm.cpp,
// test_slurm_server.cpp): the cluster's environment (scripts/slurm-up wrote
// it, the CTest fixture torchexam_slurm), a copy of the practice exam that
// grades there, and what the cluster and a job folder say about a job.
#pragma once

#include "../e2e/run_cli.hpp"
#include "../test_util.hpp"

#include <unistd.h>

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace torchexam::test {

namespace fs = std::filesystem;
namespace json = boost::json;

// Whether `name` is an executable in $PATH or the sbin folders.
inline bool installed(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::istringstream dirs(std::string(path ? path : "") + ":/usr/sbin:/sbin");
  for (std::string dir; std::getline(dirs, dir, ':');)
    if (!dir.empty() && ::access((fs::path(dir) / name).c_str(), X_OK) == 0) return true;
  return false;
}

// SLURM_CONF and the partition of the test cluster, from the file
// scripts/slurm-up wrote (TORCHEXAM_SLURM_ENV). Ends the case as skipped
// (77) where the cluster cannot run, as tests/slurm/smoke.sh does: without
// root, or without Slurm and munge.
inline void use_test_cluster() {
  if (geteuid() != 0) {
    // scripts/slurm-up needs root (munge's key, slurmd's cgroups); CTest counts 77 as skipped.
    skip_test("the Slurm test cluster needs root");
  }
  if (!installed("slurmctld") || !installed("munged") || !installed("sbatch"))
    skip_test("Slurm or munge is not installed (scripts/setup installs them)");
  const char* file = std::getenv("TORCHEXAM_SLURM_ENV");
  REQUIRE_MESSAGE(file, "TORCHEXAM_SLURM_ENV is not set: run these tests through ctest (fixture torchexam_slurm)");
  std::ifstream in(file);
  REQUIRE_MESSAGE(in, "no " << file << ": the test cluster is not up (scripts/slurm-up, CTest test slurm.up)");
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("export ", 0) != 0) continue;
    const auto eq = line.find('=');
    setenv(line.substr(7, eq - 7).c_str(), line.substr(eq + 1).c_str(), 1);
  }
  REQUIRE(std::getenv("SLURM_CONF"));
}

// A copy of the practice environment that grades on the test cluster. The
// shared folder is the cluster's (TORCHEXAM_SLURM_DIR/shared: one build
// cache and precompiled header for every case) unless the case needs its own.
struct SlurmEnvironment {
  fs::path root, env, shared;
  explicit SlurmEnvironment(const std::string& name, bool own_shared_dir = false) {
    use_test_cluster();
    root = fs::temp_directory_path() / ("torchexam-slurm-" + name + "-" + std::to_string(getpid()));
    fs::remove_all(root);
    env = root / "env";
    const char* cluster = std::getenv("TORCHEXAM_SLURM_DIR");
    shared = own_shared_dir || !cluster ? root / "shared" : fs::path(cluster) / "shared";
    fs::create_directories(root);
    fs::create_directories(shared);
    // An own shared folder still shares the cluster's build cache (the
    // precompiled header, the staged data): its own jobs/ is what it is for.
    if (own_shared_dir && cluster) {
      fs::create_directories(fs::path(cluster) / "shared" / "cache");
      fs::create_directory_symlink(fs::path(cluster) / "shared" / "cache", shared / "cache");
    }
    fs::copy(fs::path(TORCHEXAM_SOURCE_DIR) / "environments/practice", env, fs::copy_options::recursive);
    const char* partition = std::getenv("TORCHEXAM_SLURM_PARTITION");
    std::ofstream(env / "environment.yaml", std::ios::app)
        << "grading:\n  backend: slurm\n  slurm:\n    shared_dir: " << shared.string()
        << "\n    partition: " << (partition ? partition : "exam") << "\n    poll: 0.25\n";
  }
  ~SlurmEnvironment() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
  SlurmEnvironment(const SlurmEnvironment&) = delete;
  SlurmEnvironment& operator=(const SlurmEnvironment&) = delete;
};

// Jobs in the cluster's completion log: name -> states (one per run).
inline std::map<std::string, std::vector<std::string>> completion_log() {
  const CliRun run = run_cli("/usr/bin/sacct", {"-c", "-n", "-P", "-o", "JobID,JobName,State"});
  REQUIRE(run.exit_code == 0);
  std::map<std::string, std::vector<std::string>> out;
  std::istringstream in(run.out);
  for (std::string line; std::getline(in, line);) {
    const auto a = line.find('|'), b = line.find('|', a + 1);
    if (a == std::string::npos || b == std::string::npos) continue;
    out[line.substr(a + 1, b - a - 1)].push_back(line.substr(b + 1));
  }
  return out;
}

// A phase's ledger.json in a job folder (null when there is none).
inline json::value ledger_of(const fs::path& job_dir, const char* phase) {
  std::ifstream in(job_dir / (std::string(".slurm-") + phase) / "ledger.json");
  std::string text((std::istreambuf_iterator<char>(in)), {});
  return text.empty() ? json::value() : json::parse(text);
}

}  // namespace torchexam::test
