#include "base/thread_sched.hpp"

#include <sched.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace torchexam {
namespace {

// The kernel's struct sched_attr (include/uapi/linux/sched/types.h);
// glibc 2.36 has no wrapper for sched_setattr.
struct SchedAttr {
  uint32_t size = sizeof(SchedAttr);
  uint32_t sched_policy = 0;
  uint64_t sched_flags = 0;
  int32_t sched_nice = 0;
  uint32_t sched_priority = 0;
  uint64_t sched_runtime = 0;  // SCHED_OTHER/BATCH: the requested slice, ns (Linux >= 6.12)
  uint64_t sched_deadline = 0;
  uint64_t sched_period = 0;
  uint32_t sched_util_min = 0;
  uint32_t sched_util_max = 0;
};
constexpr uint64_t kResetOnFork = 0x01;  // SCHED_FLAG_RESET_ON_FORK

std::string set_attr(const SchedAttr& a) {
  if (::syscall(SYS_sched_setattr, 0, &a, 0) == 0) return "";
  return std::strerror(errno);
}

}  // namespace

std::string set_thread_slice(int us) {
  SchedAttr a;
  a.sched_policy = SCHED_OTHER;
  a.sched_flags = kResetOnFork;
  errno = 0;
  a.sched_nice = ::getpriority(PRIO_PROCESS, 0);
  if (errno != 0) return std::strerror(errno);
  a.sched_runtime = static_cast<uint64_t>(us) * 1000;
  return set_attr(a);
}

bool valid_thread_policy(const std::string& policy) {
  return policy == "normal" || policy == "batch" || policy == "idle";
}

std::string set_thread_policy(const std::string& policy, int nice) {
  if (!valid_thread_policy(policy)) return "unknown scheduling policy '" + policy + "'";
  SchedAttr a;
  a.sched_policy = policy == "batch" ? SCHED_BATCH : policy == "idle" ? SCHED_IDLE : SCHED_OTHER;
  a.sched_nice = policy == "idle" ? 0 : nice;
  return set_attr(a);
}

}  // namespace torchexam
