#include "base/paths.hpp"

#include "base/build_config.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>

#include <cstdlib>
#include <stdexcept>
#include <vector>

namespace torchexam::paths {
namespace fs = std::filesystem;
namespace {

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

fs::path home_based(const char* xdg, const char* fallback, const char* tmp_name) {
  if (auto v = env(xdg); !v.empty()) return fs::path(v) / "torchexam";
  if (auto h = env("HOME"); !h.empty()) return fs::path(h) / fallback / "torchexam";
  return fs::temp_directory_path() / tmp_name;
}

// The non-empty entries of a ':'-separated variable.
std::vector<fs::path> path_list(const char* variable) {
  std::vector<fs::path> dirs;
  const std::string list = env(variable);
  for (size_t start = 0; !list.empty() && start <= list.size();) {
    const size_t colon = list.find(':', start);
    std::string d = list.substr(start, colon == std::string::npos ? std::string::npos : colon - start);
    if (!d.empty()) dirs.emplace_back(d);
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  return dirs;
}

// An installed folder, from its path relative to bin/ (build_config.hpp).
fs::path installed(const char* relative_to_bin) { return (executable_dir() / relative_to_bin).lexically_normal(); }

}  // namespace

fs::path executable_dir() { return fs::read_symlink("/proc/self/exe").parent_path(); }

bool in_build_tree() {
  std::error_code ec;
  return fs::equivalent(executable_dir(), fs::path(build_config::kBinaryDir) / "bin", ec);
}

fs::path helper_dir() { return in_build_tree() ? executable_dir() : installed(build_config::kBinToLibexec); }

namespace {
// A helper executable: where `variable` points, else in helper_dir().
fs::path helper_tool(const char* name, const char* variable) {
  if (auto v = env(variable); !v.empty()) {
    if (!fs::exists(v)) throw std::runtime_error(std::string(variable) + " points to " + v + ", which does not exist");
    return v;
  }
  const fs::path p = helper_dir() / name;
  if (!fs::exists(p))
    throw std::runtime_error(std::string(name) + " not found at " + p.string() + "; " +
                             (in_build_tree() ? "build it (cmake --build build)" : "reinstall (cmake --install build)") +
                             " or set " + variable);
  return p;
}
}  // namespace

fs::path runner() { return helper_tool("torchexam-runner", "TORCHEXAM_RUNNER"); }

fs::path sandbox() { return helper_tool("torchexam-sandbox", "TORCHEXAM_SANDBOX"); }

fs::path plugin(const std::string& name) {
  std::vector<fs::path> dirs = path_list("TORCHEXAM_PLUGIN_PATH");
  dirs.push_back(in_build_tree() ? fs::path(build_config::kBinaryDir) / "lib" / "torchexam" / "plugins"
                                 : installed(build_config::kBinToPlugins));
  const std::string file = "libtorchexam-task-" + name + ".so";
  std::string tried;
  for (const auto& d : dirs) {
    if (fs::exists(d / file)) return d / file;
    tried += "\n  " + (d / file).string();
  }
  throw std::runtime_error("no task plugin named '" + name + "'; looked for:" + tried);
}

fs::path sdk_include_dir() {
  if (auto v = env("TORCHEXAM_SDK_INCLUDE_DIR"); !v.empty()) return v;
  return in_build_tree() ? fs::path(build_config::kSdkIncludeDir) : installed(build_config::kBinToInclude);
}

fs::path environment_dir(const std::string& folder_or_name) {
  const fs::path given(folder_or_name);
  std::error_code ec;
  const bool is_name = !folder_or_name.empty() && folder_or_name.find('/') == std::string::npos &&
                       folder_or_name != "." && folder_or_name != "..";
  if (!is_name || fs::exists(given / "environment.yaml", ec)) return given;
  std::vector<fs::path> dirs = path_list("TORCHEXAM_ENVIRONMENT_PATH");
  dirs.push_back(in_build_tree() ? fs::path(build_config::kSourceDir) / "environments"
                                 : installed(build_config::kBinToEnvironments));
  std::string tried;
  for (const auto& d : dirs) {
    if (fs::exists(d / folder_or_name / "environment.yaml", ec)) return d / folder_or_name;
    tried += "\n  " + (d / folder_or_name).string();
  }
  throw std::runtime_error("no exam environment '" + folder_or_name + "': no " + folder_or_name +
                           "/environment.yaml here, and none in:" + tried);
}

fs::path cache_dir() {
  if (auto v = env("TORCHEXAM_CACHE_DIR"); !v.empty()) return v;
  return home_based("XDG_CACHE_HOME", ".cache", "torchexam-cache");
}

fs::path data_dir() {
  if (auto v = env("TORCHEXAM_DATA_DIR"); !v.empty()) return v;
  return home_based("XDG_DATA_HOME", ".local/share", "torchexam-data") / "data";
}

fs::path socket_path() {
  if (auto v = env("TORCHEXAM_SOCKET"); !v.empty()) return v;
  if (auto v = env("XDG_RUNTIME_DIR"); !v.empty()) return fs::path(v) / "torchexam" / "daemon.sock";
  return state_dir() / "run" / "daemon.sock";
}

fs::path state_dir() {
  if (auto v = env("TORCHEXAM_STATE_DIR"); !v.empty()) return v;
  return home_based("XDG_STATE_HOME", ".local/state", "torchexam-state");
}

void ensure_private_dir(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    fs::create_directories(dir.parent_path());
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST)
      throw std::runtime_error("cannot create " + dir.string() + ": " + std::strerror(errno));
  }
  struct stat st {};
  if (::stat(dir.c_str(), &st) != 0) throw std::runtime_error("cannot stat " + dir.string() + ": " + std::strerror(errno));
  if (!S_ISDIR(st.st_mode)) throw std::runtime_error(dir.string() + " is not a folder; remove it, or choose another socket with --socket");
  if (st.st_uid != ::getuid())
    throw std::runtime_error(dir.string() + " belongs to another user; choose another socket with --socket");
  if ((st.st_mode & 077) != 0)
    throw std::runtime_error(fmt::format("{} can be entered by other users (mode {:o}); the socket's folder must "
                                         "be private: chmod 700 it, or choose another socket with --socket",
                                         dir.string(), st.st_mode & 0777));
}

}  // namespace torchexam::paths
