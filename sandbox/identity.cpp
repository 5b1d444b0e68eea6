#include "sandbox/identity.hpp"

#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <map>
#include <string>

extern char** environ;

namespace torchexam::sandbox {

namespace fs = std::filesystem;

namespace {
constexpr const char* kDropStep = "drop privileges";
constexpr const char* kEnvStep = "clean environment";

bool clear_capabilities() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[2] = {};
  return syscall(SYS_capset, &header, data) == 0;
}
}  // namespace

Step drop_privileges_step(const Identity& id, std::vector<fs::path> writable) {
  return {kDropStep, [id, writable]() -> std::optional<StepError> {
            const bool root = geteuid() == 0;
            // The bounding set: no capability can come back through exec.
            for (int cap = 0; cap <= 63; ++cap) {
              if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL && errno != EPERM)
                return StepError{kDropStep, errno, "prctl(CAPBSET_DROP, " + std::to_string(cap) + ")"};
            }
            if (root) {
              for (const auto& p : writable) {
                std::error_code ec;
                if (fs::is_directory(p, ec)) {
                  if (chown(p.c_str(), id.uid, id.gid) != 0)
                    return StepError{kDropStep, errno, "chown " + p.string()};
                  for (const auto& e : fs::recursive_directory_iterator(p, ec))
                    if (lchown(e.path().c_str(), id.uid, id.gid) != 0)
                      return StepError{kDropStep, errno, "chown " + e.path().string()};
                } else if (fs::exists(p, ec) && chown(p.c_str(), id.uid, id.gid) != 0) {
                  return StepError{kDropStep, errno, "chown " + p.string()};
                }
              }
              if (setgroups(0, nullptr) != 0) return StepError{kDropStep, errno, "setgroups(0)"};
              if (setresgid(id.gid, id.gid, id.gid) != 0)
                return StepError{kDropStep, errno, "setresgid(" + std::to_string(id.gid) + ")"};
              if (setresuid(id.uid, id.uid, id.uid) != 0)
                return StepError{kDropStep, errno, "setresuid(" + std::to_string(id.uid) + ")"};
            }
            // setresuid away from root cleared the permitted and effective
            // sets; a normal user inside its own user namespace drops them here.
            if (!clear_capabilities()) return StepError{kDropStep, errno, "capset(0)"};
            if (root && (setuid(0) == 0 || geteuid() == 0))
              return StepError{kDropStep, EPERM, "root could be regained after the drop"};
            return std::nullopt;
          }};
}

const std::vector<const char*>& environment_allow_list() {
  static const std::vector<const char*> keep = {
      "PATH", "LANG", "LC_ALL", "TZ", "TMPDIR", "OMP_NUM_THREADS", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT",
      "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GLIBC_TUNABLES"};
  return keep;
}

Step clean_environment_step(const fs::path& home) {
  return {kEnvStep, [home]() -> std::optional<StepError> {
            std::map<std::string, std::string> kept;
            for (const char* name : environment_allow_list())
              if (const char* v = std::getenv(name)) kept[name] = v;
            if (clearenv() != 0) return StepError{kEnvStep, errno, "clearenv"};
            for (const auto& [k, v] : kept) setenv(k.c_str(), v.c_str(), 1);
            if (!kept.count("PATH")) setenv("PATH", "/usr/bin:/bin", 1);
            setenv("HOME", home.c_str(), 1);
            return std::nullopt;
          }};
}

}  // namespace torchexam::sandbox
