// Checks of the machine: BLAS, folders, disk, memory, CPU, sandbox, daemon.
#include "base/paths.hpp"
#include "doctor/checks.hpp"

#include <fmt/format.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

namespace torchexam::doctor {
namespace fs = std::filesystem;

namespace {

constexpr const char* kBlasAlternative = "libblas.so.3-x86_64-linux-gnu";
constexpr const char* kOpenBlasOpenMp = "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3";

CheckResult make(std::string name, Status status, std::string found, std::string expected, std::string fix = "") {
  return {std::move(name), status, std::move(found), std::move(expected), status == Status::ok ? "" : std::move(fix)};
}

// What to do about a missing layer.
std::string layer_fix(const sandbox::LayerProbe& layer) {
  if (layer.detail.find("TORCHEXAM_SANDBOX_DISABLE") != std::string::npos)
    return "unset TORCHEXAM_SANDBOX_DISABLE (it turns " + layer.name + " off)";
  const std::string& n = layer.name;
  if (n == "user_namespace" || n == "pid_namespace" || n == "mount_namespace" || n == "network_namespace")
    return "allow namespaces: sysctl -w kernel.unprivileged_userns_clone=1 (or run as root, or outside a container "
           "that forbids unshare)";
  if (n == "cgroup_memory" || n == "cgroup_pids")
    return "run with a delegated cgroup v2 subtree: systemd-run --user --scope -p Delegate=yes torchexam ... (or as "
           "root)";
  if (n == "seccomp")
    return "use a kernel built with CONFIG_SECCOMP_FILTER (Debian's is) and apt-get install libseccomp2";
  if (n == "landlock" || n == "landlock_network")
    return "boot a kernel with Landlock enabled (Debian 12's 6.1: add lsm=landlock,... to the kernel command line)" +
           std::string(n == "landlock_network" ? "; TCP rules need Linux 6.7 or later" : "");
  return "see docs/environment-yaml.md#sandbox";
}

}  // namespace

std::string read_text_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "";
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string format_bytes(uint64_t bytes) {
  constexpr double kGiB = 1024.0 * 1024 * 1024, kMiB = 1024.0 * 1024;
  if (bytes >= (uint64_t{1} << 30)) return fmt::format("{:.1f} GiB", static_cast<double>(bytes) / kGiB);
  return fmt::format("{:.0f} MiB", static_cast<double>(bytes) / kMiB);
}

std::string probe_blas(ProcessLauncher& launcher) {
  if (auto out = command_output(launcher, "update-alternatives", {"--query", kBlasAlternative})) {
    std::istringstream lines(*out);
    for (std::string line; std::getline(lines, line);)
      if (line.rfind("Value: ", 0) == 0) return line.substr(7);
  }
  std::error_code ec;
  const fs::path resolved = fs::canonical("/usr/lib/x86_64-linux-gnu/libblas.so.3", ec);
  return ec ? "" : resolved.string();
}

CheckResult check_blas(const std::string& blas) {
  const std::string expected = "OpenBLAS, OpenMP variant (" + std::string(kOpenBlasOpenMp) + ")";
  const std::string fix = fmt::format("apt-get install libopenblas0-openmp && update-alternatives --set {} {}",
                                      kBlasAlternative, kOpenBlasOpenMp);
  if (blas.empty()) return make("blas", Status::warn, "no libblas.so.3 alternative", expected, fix);
  if (blas.find("openblas-openmp") != std::string::npos) return make("blas", Status::ok, blas, expected);
  if (blas.find("openblas") != std::string::npos)
    return make("blas", Status::warn,
                blas + " (OpenBLAS with its own threads: they compete with LibTorch's OpenMP threads)", expected, fix);
  return make("blas", Status::warn, blas + " (reference BLAS: training is 2-8x slower)", expected, fix);
}

CheckResult check_runtime_dir(const fs::path& dir) {
  const std::string expected = "a folder only this user can enter (mode 700)";
  try {
    paths::ensure_private_dir(dir);  // the daemon's own rule
  } catch (const std::exception& e) {
    return make("runtime folder", Status::fail, e.what(), expected,
                "chmod 700 " + dir.string() + ", or point TORCHEXAM_SOCKET at a socket in a private folder");
  }
  CheckResult r = check_writable("runtime", dir, "TORCHEXAM_SOCKET");
  if (r.status == Status::ok) r.found = dir.string() + " is private (700) and writable";
  r.expected = expected;
  return r;
}

CheckResult check_writable(const std::string& what, const fs::path& dir, const std::string& env_var) {
  const std::string name = what + " folder";
  const std::string expected = "a folder this user can write";
  const std::string fix = "make " + dir.string() + " a writable folder (mkdir -p, chown " + std::to_string(getuid()) +
                          "), or point " + env_var + " at one";
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make(name, Status::fail, dir.string() + ": cannot create it: " + ec.message(), expected, fix);
  if (!fs::is_directory(dir, ec)) return make(name, Status::fail, dir.string() + " is not a folder", expected, fix);
  const fs::path probe = dir / fmt::format(".torchexam-doctor-{}", getpid());
  {
    std::ofstream out(probe, std::ios::binary | std::ios::trunc);
    out << "probe\n";
    out.flush();
    if (!out) {
      fs::remove(probe, ec);
      return make(name, Status::fail, dir.string() + ": cannot write a file in it: " + std::strerror(errno), expected,
                  fix);
    }
  }
  fs::remove(probe, ec);
  return make(name, Status::ok, dir.string() + " is writable", expected);
}

CheckResult check_disk(const config::Pins& pins, const std::vector<fs::path>& dirs) {
  const std::string expected = pins.disk_bytes ? format_bytes(pins.disk_bytes) + " free" : "any";
  std::string found;
  Status status = Status::ok;
  std::string fix;
  for (const fs::path& dir : dirs) {
    fs::path at = dir;  // the nearest existing ancestor
    std::error_code ec;
    while (!at.empty() && !fs::exists(at, ec) && at != at.parent_path()) at = at.parent_path();
    struct statvfs st {};
    if (statvfs(at.c_str(), &st) != 0) continue;
    const uint64_t free_bytes = static_cast<uint64_t>(st.f_bavail) * st.f_frsize;
    if (!found.empty()) found += ", ";
    found += format_bytes(free_bytes) + " free in " + dir.string();
    if (free_bytes < pins.disk_bytes) {
      status = Status::fail;
      fix = "free " + format_bytes(pins.disk_bytes - free_bytes) + " in " + at.string() +
            " (old builds: rm -rf <cache folder>/builds), or point the folder elsewhere";
    }
  }
  if (found.empty()) found = "cannot measure free space";
  return make("disk", status, found, expected, fix);
}

CheckResult check_memory(const config::Pins& pins, const std::string& meminfo) {
  const std::string expected = pins.memory_bytes ? format_bytes(pins.memory_bytes) + " available" : "any";
  std::istringstream lines(meminfo);
  uint64_t available_kb = 0, total_kb = 0;
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::string key;
    uint64_t kb = 0;
    words >> key >> kb;
    if (key == "MemAvailable:") available_kb = kb;
    if (key == "MemTotal:") total_kb = kb;
  }
  if (available_kb == 0)
    return make("memory", pins.memory_bytes ? Status::warn : Status::ok, "cannot read MemAvailable from /proc/meminfo",
                expected, "check memory by hand: free -h");
  const uint64_t available = available_kb * 1024;
  const std::string found = format_bytes(available) + " available of " + format_bytes(total_kb * 1024);
  if (available < pins.memory_bytes)
    return make("memory", Status::fail, found, expected,
                "close programs to free " + format_bytes(pins.memory_bytes - available) +
                    " of memory (or use a machine with more)");
  return make("memory", Status::ok, found, expected);
}

CheckResult check_cpu_features(const std::string& cpuinfo) {
  std::set<std::string> flags;
  std::istringstream lines(cpuinfo);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("flags", 0) != 0) continue;
    std::istringstream words(line.substr(line.find(':') + 1));
    for (std::string w; words >> w;) flags.insert(w);
    break;
  }
  const std::string expected = "avx2 and fma (LibTorch's vectorised CPU kernels)";
  if (flags.empty()) return make("cpu", Status::warn, "cannot read the CPU flags", expected, "check /proc/cpuinfo");
  std::string missing;
  for (const char* f : {"avx2", "fma"})
    if (!flags.count(f)) missing += (missing.empty() ? "" : ", ") + std::string(f);
  if (!missing.empty())
    return make("cpu", Status::warn, "no " + missing, expected,
                "none needed, but LibTorch falls back to slower kernels: expect longer training (see the forecast)");
  return make("cpu", Status::ok, "avx2, fma", expected);
}

CheckResult check_sandbox_floor(const config::Pins& pins, const std::vector<sandbox::LayerProbe>& layers) {
  std::string available, missing_required, fix;
  int count = 0;
  for (const auto& layer : layers) {
    if (layer.available) {
      ++count;
      continue;
    }
    const bool required =
        std::find(pins.sandbox_require.begin(), pins.sandbox_require.end(), layer.name) != pins.sandbox_require.end();
    if (!required) continue;
    if (!missing_required.empty()) missing_required += "; ";
    missing_required += layer.name + " missing (" + layer.detail + ")";
    if (!fix.empty()) fix += "; ";
    fix += layer.name + ": " + layer_fix(layer);
  }
  std::string found = std::to_string(count) + " of " + std::to_string(layers.size()) + " layers available";
  std::string not_available;
  for (const auto& layer : layers)
    if (!layer.available) not_available += (not_available.empty() ? "" : ", ") + layer.name;
  if (!not_available.empty()) found += " (not: " + not_available + ")";
  std::string expected = "floor: ";
  for (const auto& n : pins.sandbox_require) expected += (expected == "floor: " ? "" : ", ") + n;
  if (pins.sandbox_require.empty()) expected = "no floor (sandbox.require is empty)";
  if (!missing_required.empty()) return make("sandbox", Status::fail, missing_required + "; " + found, expected, fix);
  return make("sandbox", Status::ok, found, expected);
}

CheckResult check_daemon(const fs::path& socket_path) {
  const std::string expected = "torchexamd listening on " + socket_path.string();
  const std::string fix = "none needed: torchexam start starts it on demand (or run: torchexam daemon start)";
  const std::string on_demand = "; torchexam start starts it on demand";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.string().size() >= sizeof(addr.sun_path))
    return make("daemon", Status::warn, "socket path too long", expected, fix);
  std::strncpy(addr.sun_path, socket_path.c_str(), sizeof(addr.sun_path) - 1);
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return make("daemon", Status::warn, std::string("socket: ") + std::strerror(errno), expected, fix);
  const int rc = ::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr));
  const int err = errno;
  ::close(fd);
  if (rc != 0)  // nothing to fix: a fact
    return make("daemon", Status::info, "not running (" + std::string(std::strerror(err)) + ")" + on_demand,
                "", "");
  return make("daemon", Status::ok, "running on " + socket_path.string(), expected);
}

}  // namespace torchexam::doctor
