#include "base/hash.hpp"

#include <openssl/evp.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <algorithm>
#include <chrono>
#include <map>
#include <mutex>
#include <tuple>
#include <system_error>
#include <thread>
#include <utility>

#include <fstream>
#include <sstream>
#include <stdexcept>

namespace torchexam {

Sha256::Sha256() : ctx_(EVP_MD_CTX_new()) {
  if (!ctx_ || EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
}

Sha256::~Sha256() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

Sha256& Sha256::update(std::string_view data) {
  EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data.data(), data.size());
  return *this;
}

Sha256& Sha256::field(std::string_view data) {
  return update(std::to_string(data.size())).update(":").update(data);
}

std::string Sha256::hex() {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), digest, &len);
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) { return Sha256().update(data).hex(); }

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot read " + path.string());
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string file_sha256(const std::filesystem::path& path) {
  using Stamp = std::tuple<dev_t, ino_t, off_t, int64_t, int64_t>;
  static std::mutex mutex;
  static std::map<std::string, std::pair<Stamp, std::string>> known;
  auto stamp_of = [&]() -> Stamp {
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0) throw std::runtime_error("cannot read " + path.string() + ": " + std::strerror(errno));
    auto ns = [](const timespec& t) { return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec; };
    return {st.st_dev, st.st_ino, st.st_size, ns(st.st_mtim), ns(st.st_ctim)};
  };
  const std::string key = std::filesystem::absolute(path).lexically_normal().string();
  const Stamp before = stamp_of();
  {
    std::lock_guard lock(mutex);
    if (auto it = known.find(key); it != known.end() && it->second.first == before) return it->second.second;
  }
  std::string sha = sha256_hex(read_file(path));  // outside the lock: a data file is megabytes
  // Remembered only when the file did not change while it was read.
  if (stamp_of() == before) {
    std::lock_guard lock(mutex);
    known[key] = {before, sha};
  }
  return sha;
}

FileLock::FileLock(const std::filesystem::path& file, const std::atomic<bool>* cancel)
    : fd_(::open(file.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644)) {
  if (fd_ < 0) throw std::runtime_error("cannot create the lock file " + file.string() + ": " + std::strerror(errno));
  if (!cancel) {
    while (::flock(fd_, LOCK_EX) != 0 && errno == EINTR) {
    }
    held_ = true;
    return;
  }
  // flock() has no timeout: ask without blocking, and look at `cancel`
  // between tries.
  for (;;) {
    if (::flock(fd_, LOCK_EX | LOCK_NB) == 0) {
      held_ = true;
      return;
    }
    if (errno != EWOULDBLOCK && errno != EINTR)
      throw std::runtime_error("cannot lock " + file.string() + ": " + std::strerror(errno));
    if (cancel->load()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

FileLock::~FileLock() { ::close(fd_); }

namespace {

[[noreturn]] void fail_errno(std::string_view what, const std::filesystem::path& path) {
  const int err = errno;  // before anything else can overwrite it
  throw std::system_error(err, std::generic_category(), "cannot " + std::string(what) + " " + path.string());
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

void fsync_dir(const std::filesystem::path& dir) {
  Fd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) fail_errno("open the folder", dir);
  if (::fsync(fd.get()) != 0) fail_errno("fsync the folder", dir);
}

void write_file_atomically(const std::filesystem::path& path, std::string_view bytes, Durability durability) {
  const std::filesystem::path dir = path.parent_path().empty() ? "." : path.parent_path();
  std::string tmp = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  Fd fd(::mkostemp(tmp.data(), O_CLOEXEC));
  if (fd.get() < 0) fail_errno("create a temporary file in", dir);
  try {
    // mkstemp makes the file 0600; give it what a plain create would.
    const mode_t mask = ::umask(0);
    ::umask(mask);
    if (::fchmod(fd.get(), 0666 & ~mask) != 0) fail_errno("set the mode of", tmp);
    for (size_t done = 0; done < bytes.size();) {
      const ssize_t n = ::write(fd.get(), bytes.data() + done, bytes.size() - done);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) fail_errno("write", tmp);
      done += static_cast<size_t>(n);
    }
    if (durability == Durability::synced && ::fsync(fd.get()) != 0) fail_errno("fsync", tmp);
    if (::close(fd.release()) != 0) fail_errno("close", tmp);
    if (::rename(tmp.c_str(), path.c_str()) != 0) fail_errno("rename into place", path);
  } catch (...) {
    ::unlink(tmp.c_str());
    throw;
  }
  if (durability == Durability::synced) fsync_dir(dir);
}

}  // namespace torchexam
