#include "grading/job_dirs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace torchexam {
namespace fs = std::filesystem;

namespace {
constexpr const char* kInUse = ".in-use";

// True when some JobDirInUse holds `dir` (its lock cannot be taken now).
bool in_use(const fs::path& dir) {
  const int fd = ::open((dir / kInUse).c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return false;  // never locked
  const bool busy = ::flock(fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
  ::close(fd);
  return busy;
}

uint64_t size_of(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code fec;
    if (it->is_regular_file(fec)) total += it->file_size(fec);
  }
  return total;
}
}  // namespace

JobDirInUse::JobDirInUse(const fs::path& dir) : lock_((fs::create_directories(dir), dir / kInUse)) {}

PruneReport prune_job_dirs(const fs::path& jobs_dir, size_t keep,
                           const std::function<bool(const std::string& name)>& removable) {
  PruneReport out;
  try {
    std::error_code ec;
    std::vector<std::pair<fs::file_time_type, fs::path>> dirs;
    for (fs::directory_iterator it(jobs_dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      std::error_code eec;
      if (!it->is_directory(eec) || it->is_symlink(eec) || !removable(it->path().filename().string())) continue;
      dirs.emplace_back(it->last_write_time(eec), it->path());
    }
    if (dirs.size() <= keep) return out;
    std::sort(dirs.begin(), dirs.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
    for (size_t i = keep; i < dirs.size(); ++i) {
      const fs::path& dir = dirs[i].second;
      if (in_use(dir)) continue;
      const uint64_t bytes = size_of(dir);
      std::error_code rec;
      fs::remove_all(dir, rec);
      if (rec && rec != std::errc::no_such_file_or_directory) {
        out.errors.push_back(dir.string() + ": " + rec.message());
        continue;
      }
      ++out.removed;
      out.bytes += bytes;
    }
  } catch (const std::exception& e) {  // pruning is housekeeping: it never ends a grading
    out.errors.push_back(jobs_dir.string() + ": " + e.what());
  }
  return out;
}

}  // namespace torchexam
