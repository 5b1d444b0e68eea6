#include "sandbox/steps.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace torchexam::sandbox {

std::string StepError::message() const {
  std::string m = "sandbox step '" + step + "' failed: " + what;
  if (error) m += std::string(": ") + std::strerror(error) + " (errno " + std::to_string(error) + ")";
  return m;
}

std::optional<StepError> run_steps(const std::vector<Step>& steps) {
  for (const auto& s : steps)
    if (auto err = s.run()) return err;
  return std::nullopt;
}

Step set_rlimit(const char* name, int resource, rlim_t value) {
  return {std::string("rlimit ") + name, [name, resource, value]() -> std::optional<StepError> {
            rlimit rl{value, value};
            if (setrlimit(resource, &rl) != 0)
              return StepError{std::string("rlimit ") + name, errno,
                               "setrlimit(" + std::string(name) + ", " + std::to_string(value) + ")"};
            return std::nullopt;
          }};
}

std::vector<Step> limit_steps(const Limits& limits) {
  std::vector<Step> steps;
  steps.push_back(set_rlimit("CORE", RLIMIT_CORE, 0));
  steps.push_back(set_rlimit("NOFILE", RLIMIT_NOFILE, limits.max_open_files));
  steps.push_back(set_rlimit("FSIZE", RLIMIT_FSIZE, limits.max_file_size));
  if (limits.address_space > 0) steps.push_back(set_rlimit("AS", RLIMIT_AS, limits.address_space));
  if (limits.cpu_seconds > 0) {
    // Soft limit sends SIGXCPU, which the harness reports as a CPU timeout;
    // the hard limit, a little later, is a SIGKILL nothing can catch.
    const rlim_t soft = limits.cpu_seconds;
    steps.push_back({"rlimit CPU", [soft]() -> std::optional<StepError> {
                       rlimit rl{soft, soft + 2};
                       if (setrlimit(RLIMIT_CPU, &rl) != 0)
                         return StepError{"rlimit CPU", errno, "setrlimit(CPU, " + std::to_string(soft) + ")"};
                       return std::nullopt;
                     }});
  }
  return steps;
}

Step close_inherited_fds(int keep) {
  return {"close inherited descriptors", [keep]() -> std::optional<StepError> {
            std::vector<int> fds;
            if (DIR* d = opendir("/proc/self/fd")) {
              while (dirent* e = readdir(d)) {
                const int fd = std::atoi(e->d_name);
                if (fd > STDERR_FILENO && fd != keep && fd != dirfd(d)) fds.push_back(fd);
              }
              closedir(d);
            } else {
              return StepError{"close inherited descriptors", errno, "opendir(/proc/self/fd)"};
            }
            for (int fd : fds) close(fd);
            return std::nullopt;
          }};
}

Step enter_workdir(const std::filesystem::path& dir) {
  return {"workdir", [dir]() -> std::optional<StepError> {
            if (chdir(dir.c_str()) != 0) return StepError{"workdir", errno, "chdir(" + dir.string() + ")"};
            return std::nullopt;
          }};
}

Step redirect_output(const std::filesystem::path& log) {
  return {"redirect output", [log]() -> std::optional<StepError> {
            int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
            if (fd < 0) return StepError{"redirect output", errno, "open(" + log.string() + ")"};
            if (dup2(fd, STDOUT_FILENO) < 0 || dup2(fd, STDERR_FILENO) < 0) {
              int e = errno;
              close(fd);
              return StepError{"redirect output", e, "dup2 onto stdout/stderr"};
            }
            close(fd);
            int devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (devnull >= 0) {
              dup2(devnull, STDIN_FILENO);
              close(devnull);
            }
            return std::nullopt;
          }};
}

}  // namespace torchexam::sandbox
