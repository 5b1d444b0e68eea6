// The layer probes and the job cgroup, against this machine's kernel.
#include "../test_util.hpp"
#include "sandbox/cgroup.hpp"
#include "sandbox/layers.hpp"
#include "sandbox/proc_stat.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <vector>

using namespace torchexam::sandbox;

namespace {

std::map<std::string, LayerProbe> probes() {
  std::map<std::string, LayerProbe> out;
  for (auto& p : probe_layers()) out[p.name] = p;
  return out;
}

// The controller's probe, or the reason it is off; TORCHEXAM_SANDBOX_DISABLE
// (cgroup_memory, cgroup_pids) turns it off as it does for the runner, which
// is how a machine without the controller is simulated.
CgroupProbe cgroup_or_why_not(CgroupController controller) {
  const char* layer = controller == CgroupController::memory ? "cgroup_memory" : "cgroup_pids";
  if (disabled_by_environment(layer)) return {false, std::string(layer) + " disabled by TORCHEXAM_SANDBOX_DISABLE"};
  return probe_cgroup(controller);
}

struct ScopedEnv {
  std::string name;
  ScopedEnv(const char* n, const char* v) : name(n) { setenv(n, v, 1); }
  ~ScopedEnv() { unsetenv(name.c_str()); }
};

}  // namespace

TEST_SUITE("layers") {
  TEST_CASE("every layer is probed, each with a detail") {
    auto all = probe_layers();
    REQUIRE(all.size() == std::size(kLayerNames));
    for (size_t i = 0; i < all.size(); ++i) {
      CHECK(all[i].name == kLayerNames[i]);
      CHECK_FALSE(all[i].detail.empty());
    }
    auto m = probes();
    CHECK(m["rlimits"].available);
    // The probes run in children: this process is still in its own namespaces.
    char self[64], init[64];
    ssize_t a = readlink("/proc/self/ns/pid", self, sizeof self);
    ssize_t b = readlink("/proc/1/ns/pid", init, sizeof init);
    if (a > 0 && b > 0) CHECK(std::string(self, a) == std::string(init, b));
    CHECK(is_layer_name("seccomp"));
    CHECK_FALSE(is_layer_name("secomp"));
  }

  TEST_CASE("TORCHEXAM_SANDBOX_DISABLE turns layers off by name") {
    ScopedEnv env("TORCHEXAM_SANDBOX_DISABLE", "seccomp,network_namespace");
    auto m = probes();
    CHECK_FALSE(m["seccomp"].available);
    CHECK(m["seccomp"].detail.find("TORCHEXAM_SANDBOX_DISABLE") != std::string::npos);
    CHECK_FALSE(m["network_namespace"].available);
    CHECK(m["rlimits"].available);
  }

  TEST_CASE("a job cgroup limits memory: the kernel kills a hog, and the group is removed") {
    auto probe = cgroup_or_why_not(CgroupController::memory);
    if (!probe.ok) torchexam::test::skip_test("no memory cgroup on this machine: " + probe.detail);
    std::vector<std::string> notes;
    std::string name = "torchexam-test-" + std::to_string(getpid());
    std::filesystem::path where;
    {
      auto group = JobCgroup::create(name, {64u << 20, 0}, notes);
      REQUIRE(group->has_memory());
      int ready[2];
      REQUIRE(pipe(ready) == 0);
      pid_t child = fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        char go;
        close(ready[1]);
        if (read(ready[0], &go, 1) != 1) _exit(3);
        // Touch 256 MiB, four times the limit.
        for (size_t i = 0; i < 256; ++i) {
          char* p = static_cast<char*>(std::malloc(1 << 20));
          if (!p) _exit(2);
          std::memset(p, 1, 1 << 20);
        }
        _exit(0);
      }
      close(ready[0]);
      CHECK(group->join(child).empty());
      REQUIRE(write(ready[1], "g", 1) == 1);
      close(ready[1]);
      int status = 0;
      REQUIRE(waitpid(child, &status, 0) == child);
      CHECK(WIFSIGNALED(status));
      if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGKILL);
      CHECK(group->oom_killed());
      CHECK(group->memory_peak() >= (60u << 20));
    }
    // The destructor removed the group.
    auto again = JobCgroup::create(name, {64u << 20, 0}, notes);
    CHECK(again->has_memory());
  }

  TEST_CASE("a job cgroup limits processes") {
    auto probe = cgroup_or_why_not(CgroupController::pids);
    if (!probe.ok) torchexam::test::skip_test("no pids cgroup on this machine: " + probe.detail);
    std::vector<std::string> notes;
    auto group = JobCgroup::create("torchexam-test-pids-" + std::to_string(getpid()), {0, 4}, notes);
    REQUIRE(group->has_pids());
    pid_t child = fork();
    REQUIRE(child >= 0);
    if (child == 0) {
      // Join the group, then fork until refused.
      if (!group->join(0).empty()) _exit(100);
      int made = 0;
      for (int i = 0; i < 16; ++i) {
        pid_t p = fork();
        if (p == 0) {
          pause();
          _exit(0);
        }
        if (p < 0) break;
        ++made;
      }
      _exit(made);
    }
    int status = 0;
    REQUIRE(waitpid(child, &status, 0) == child);
    REQUIRE(WIFEXITED(status));
    REQUIRE(WEXITSTATUS(status) != 100);
    CHECK(WEXITSTATUS(status) <= 3);  // the child itself is one of the four
    CHECK(group->pids_limit_hit());
    group->kill_all();
  }
}

// /proc/stat, read once for the runner's CPU pinning, the doctor's forecast
// and the benchmarks.
TEST_SUITE("layers") {
  TEST_CASE("/proc/stat: the machine's line and each CPU's, busy and total ticks") {
    const ProcStat s = parse_proc_stat(
        "cpu  100 5 50 1000 20 3 2 7 0 0\n"
        "cpu0 60 5 30 400 10 2 1 4 0 0\n"
        "cpu2 40 0 20 600 10 1 1 3\n"
        "cpufreq 1 2 3 4\n"
        "intr 12345 0 0\n"
        "ctxt 999\n");
    REQUIRE(s.all);
    CHECK(s.all->busy() == 100 + 5 + 50 + 3 + 2 + 7);
    CHECK(s.all->total() == s.all->busy() + 1000 + 20);
    CHECK(s.all->steal == 7);
    REQUIRE(s.cpus.size() == 3);  // cpu1 absent (offline): zeros
    CHECK(s.cpus[0].busy() == 60 + 5 + 30 + 2 + 1 + 4);
    CHECK(s.cpus[1].total() == 0);
    CHECK(s.cpus[2].idle == 600);
    CHECK_FALSE(parse_proc_stat("").all);
    const ProcStat here = read_proc_stat();  // this machine's
    REQUIRE(here.all);
    CHECK(here.all->total() > 0);
    CHECK_FALSE(here.cpus.empty());
  }
}
