// durable_file.cpp — durable writes for the store (durable_file.hpp).
#include "store/durable_file.hpp"

#include "store/store.hpp"  // StoreError

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <utility>

namespace torchexam::store {

namespace fs = std::filesystem;

namespace {

[[noreturn]] void fail_errno(std::string_view what, const fs::path& path) {
  const int err = errno;  // before anything else can overwrite it
  throw StoreError("store: cannot " + std::string(what) + " " + path.string() + ": " + std::strerror(err));
}

// Closes a file descriptor on scope exit.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

}  // namespace

void fsync_dir(const fs::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail_errno("open folder", dir);
  if (::fsync(fd.get()) != 0) fail_errno("fsync folder", dir);
}

void write_durably(const fs::path& path, std::string_view bytes) {
  const fs::path dir = path.parent_path();
  std::string tmp = (dir / ".tmp-XXXXXX").string();
  Fd fd(::mkstemp(tmp.data()));
  if (fd.get() < 0) fail_errno("create a temporary file in", dir);
  try {
    for (size_t done = 0; done < bytes.size();) {
      const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("write", tmp);
      done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) fail_errno("fsync", tmp);
    if (::close(fd.release()) != 0) fail_errno("close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("rename into place", path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  fsync_dir(dir);
}

}  // namespace torchexam::store
