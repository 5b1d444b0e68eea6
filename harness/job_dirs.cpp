#include "job_dirs.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <stdexcept>

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

JobDirInUse::JobDirInUse(const fs::path& dir) {
  fs::create_directories(dir);
  fd_ = ::open((dir / kInUse).c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0600);
  if (fd_ < 0)
    throw std::runtime_error("cannot create " + (dir / kInUse).string() + ": " + std::strerror(errno));
  while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
  }
}

JobDirInUse::~JobDirInUse() {
  if (fd_ >= 0) ::close(fd_);
}

PruneReport prune_job_dirs(const fs::path& jobs_dir, size_t keep) {
  PruneReport out;
  std::error_code ec;
  std::vector<std::pair<fs::file_time_type, fs::path>> dirs;
  for (const auto& e : fs::directory_iterator(jobs_dir, ec)) {
    std::error_code eec;
    if (!e.is_directory(eec) || e.is_symlink(eec)) continue;
    dirs.emplace_back(e.last_write_time(eec), e.path());
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
  return out;
}

}  // namespace torchexam
