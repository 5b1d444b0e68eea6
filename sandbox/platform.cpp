#include "sandbox/platform.hpp"

#include <dlfcn.h>
#include <limits.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <sstream>

namespace torchexam::sandbox {
namespace {

std::string_view file_name(std::string_view path) {
  const auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

// The path of one maps line: what follows the fifth field (address, perms,
// offset, device, inode), without a " (deleted)" mark; "" for an anonymous
// mapping.
std::string_view mapped_path(std::string_view line) {
  size_t pos = 0;
  for (int field = 0; field < 5; ++field) {
    while (pos < line.size() && line[pos] == ' ') ++pos;
    while (pos < line.size() && line[pos] != ' ') ++pos;
  }
  while (pos < line.size() && line[pos] == ' ') ++pos;
  std::string_view path = line.substr(std::min(pos, line.size()));
  constexpr std::string_view kDeleted = " (deleted)";
  if (path.size() > kDeleted.size() && path.substr(path.size() - kDeleted.size()) == kDeleted)
    path.remove_suffix(kDeleted.size());
  return path.empty() || path.front() != '/' ? std::string_view{} : path;
}

bool starts_with(std::string_view s, std::string_view prefix) { return s.substr(0, prefix.size()) == prefix; }

// A dotted version at the start of `s` ("0.3.21", "3.11.0"); "" when `s`
// does not start with a digit.
std::string leading_version(std::string_view s) {
  size_t n = 0;
  while (n < s.size() && (std::isdigit(static_cast<unsigned char>(s[n])) || s[n] == '.')) ++n;
  while (n > 0 && s[n - 1] == '.') --n;
  return n > 0 && std::isdigit(static_cast<unsigned char>(s[0])) ? std::string(s.substr(0, n)) : std::string();
}

}  // namespace

std::string blas_in_maps(std::string_view maps) {
  // Preference order: the first pattern any mapped file matches wins.
  constexpr std::array<std::string_view, 4> kPrefixes = {"libopenblas", "libmkl_rt", "libblis", "libblas.so"};
  std::array<std::string, kPrefixes.size()> found;
  size_t start = 0;
  while (start < maps.size()) {
    size_t end = maps.find('\n', start);
    if (end == std::string_view::npos) end = maps.size();
    const std::string_view path = mapped_path(maps.substr(start, end - start));
    start = end + 1;
    if (path.empty()) continue;
    const auto name = file_name(path);
    for (size_t i = 0; i < kPrefixes.size(); ++i)
      if (found[i].empty() && starts_with(name, kPrefixes[i]) && name.find(".so") != std::string_view::npos)
        found[i] = std::string(path);
  }
  for (const auto& f : found)
    if (!f.empty()) return f;
  return {};
}

std::string version_from_openblas_config(std::string_view config) {
  constexpr std::string_view kName = "OpenBLAS ";
  const auto at = config.find(kName);
  return at == std::string_view::npos ? std::string() : leading_version(config.substr(at + kName.size()));
}

std::string version_from_library_name(std::string_view path) {
  const auto name = file_name(path);
  if (const auto r = name.find("-r"); starts_with(name, "libopenblas") && r != std::string_view::npos)
    if (auto v = leading_version(name.substr(r + 2)); !v.empty()) return v;
  const auto so = name.find(".so.");
  return so == std::string_view::npos ? std::string() : leading_version(name.substr(so + 4));
}

BlasFound read_blas() {
  BlasFound out;
  // The library this process's calls to sgemm_ reach: when several BLAS
  // libraries are mapped (LibTorch on Debian maps both libblas.so.3 and
  // libopenblas.so.0), the first in the global search order answers.
  void* handle = nullptr;
  Dl_info info{};
  if (void* gemm = dlsym(RTLD_DEFAULT, "sgemm_"); gemm && dladdr(gemm, &info) && info.dli_fname) {
    char resolved[PATH_MAX];
    out.path = realpath(info.dli_fname, resolved) ? resolved : info.dli_fname;
    handle = dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
  } else {
    std::ifstream maps("/proc/self/maps");
    if (!maps) return out;
    std::stringstream text;
    text << maps.rdbuf();
    out.path = blas_in_maps(text.str());
    if (out.path.empty()) return out;
    handle = dlopen(out.path.c_str(), RTLD_LAZY | RTLD_NOLOAD);
  }
  // OpenBLAS states its version; other libraries only in their file name.
  // Looked up in that library (and what it loads), not in the whole process.
  using ConfigFn = const char* (*)();
  if (handle) {
    if (auto config = reinterpret_cast<ConfigFn>(dlsym(handle, "openblas_get_config")))
      if (const char* c = config()) out.version = version_from_openblas_config(c);
    dlclose(handle);
  }
  if (out.version.empty()) out.version = version_from_library_name(out.path);
  return out;
}

}  // namespace torchexam::sandbox
