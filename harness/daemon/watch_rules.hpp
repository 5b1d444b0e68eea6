// watch_rules.hpp — what every watcher backend agrees on (internal to
// harness/daemon): which file names are cookies, which paths are ignored
// (hidden names except cookies in the root; anything under a folder named
// "build"), how a path is taken relative to the watched root, and errno as
// text for messages.
// Pure functions on paths: no file is touched, safe from any thread.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>

namespace torchexam::daemon::watch {

namespace fs = std::filesystem;

inline constexpr std::string_view kCookiePrefix = ".torchexam-cookie-";

inline bool is_cookie_name(std::string_view name) { return name.starts_with(kCookiePrefix); }

// `rel` is relative to the root. A folder is skipped (not watched, nothing
// below it reported) if any component is hidden or named "build".
inline bool ignored_dir(const fs::path& rel) {
  for (const auto& part : rel) {
    const std::string s = part.string();
    if (s.empty() || s == ".") continue;
    if (s == "build" || s.front() == '.') return true;
  }
  return false;
}

// A file is ignored if its folder is, or if its name is hidden, unless it is a
// cookie directly in the root.
inline bool ignored_file(const fs::path& rel) {
  if (rel.empty() || ignored_dir(rel.parent_path())) return true;
  const std::string name = rel.filename().string();
  if (name.empty()) return true;
  if (name.front() != '.') return false;
  return !(is_cookie_name(name) && !rel.has_parent_path());
}

// `p` relative to `root` (a relative `p` is already relative to it); nullopt
// if `p` is outside the root or is the root itself.
inline std::optional<fs::path> relative_to_root(const fs::path& root, const fs::path& p) {
  if (p.is_relative()) return p.lexically_normal();
  fs::path rel = p.lexically_normal().lexically_relative(root.lexically_normal());
  if (rel.empty() || rel == "." || *rel.begin() == "..") return std::nullopt;
  return rel;
}

// True if `p` is `dir` or lies below it (lexically, component by component).
inline bool is_within(const fs::path& p, const fs::path& dir) {
  auto pi = p.begin();
  for (auto di = dir.begin(); di != dir.end(); ++di, ++pi) {
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

inline std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace torchexam::daemon::watch
