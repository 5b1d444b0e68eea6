// Helpers of the tests that grade the hostile solution (tests/hostile):
// the solution's source, an attack's number, and the release of a job that
// holds at the start of train() (test_hostile.cpp, test_warm_runner.cpp).
#pragma once

#include "../hostile/attack_list.hpp"
#include "../unit/idx_writer.hpp"  // temp_dir
#include "base/hash.hpp"
#include "e2e_util.hpp"
#include "kernel_view.hpp"

#include <doctest/doctest.h>

#include <signal.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

namespace torchexam::e2e {

// The attack's number in attack_list.hpp.
inline int attack_number(const std::string& name) {
  static const std::vector<std::string> kNames = {
#define TORCHEXAM_HOSTILE_NAME(name) #name,
      TORCHEXAM_HOSTILE_ATTACKS(TORCHEXAM_HOSTILE_NAME)
#undef TORCHEXAM_HOSTILE_NAME
  };
  const auto it = std::find(kNames.begin(), kNames.end(), name);
  REQUIRE_MESSAGE(it != kNames.end(), "no attack '" << name << "' in tests/hostile/attack_list.hpp");
  return static_cast<int>(it - kNames.begin()) + 1;
}

// The one solution every attack is graded as: the list, then the attacks.
inline const fs::path& hostile_solution() {
  static const fs::path source = [] {
    const fs::path dir = torchexam::test::temp_dir("hostile-solution");
    std::ofstream out(dir / "attacks.cpp");
    out << torchexam::read_file(kSource / "tests/hostile/attack_list.hpp") << "\n"
        << torchexam::read_file(kSource / "tests/hostile/attacks.cpp");
    return dir / "attacks.cpp";
  }();
  return source;
}

// Sends SIGUSR1 with the attack's number to the held thread.
inline bool release(int pid, int tid, int attack) {
  siginfo_t info{};
  info.si_signo = SIGUSR1;
  info.si_code = SI_QUEUE;
  info.si_pid = getpid();
  info.si_uid = getuid();
  info.si_value.sival_int = attack;
  return syscall(SYS_rt_tgsigqueueinfo, pid, tid, SIGUSR1, &info) == 0;
}

// The warm runner (`torchexam-runner zygote`, sandbox/zygote.hpp) that
// `pid` was forked from, 0 when none: the outermost ancestor started as one
// (a forked child keeps its zygote's command line, so the job's supervisor
// shows it too).
inline int zygote_of(int pid) {
  int found = 0;
  for (int p = test::kernel::parent_of(pid), hops = 0; p > 1 && hops < 64; p = test::kernel::parent_of(p), ++hops) {
    const std::string cmdline = test::kernel::read_text("/proc/" + std::to_string(p) + "/cmdline");
    if (cmdline.find("torchexam-runner") != std::string::npos &&
        cmdline.find(std::string("\0zygote\0", 8)) != std::string::npos)
      found = p;
    else if (found)
      break;
  }
  return found;
}

// Whether `torchexam grade` forks its runners from a warm runner, as the
// environment of these tests says (its default is on).
inline bool warm_runner_on() {
  const char* v = std::getenv("TORCHEXAM_WARM_RUNNER");
  return !v || std::string(v) != "off";
}

}  // namespace torchexam::e2e
