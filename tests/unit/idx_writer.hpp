// Test helper: writes small IDX files (gzip-compressed through zlib), so tests
// make their own data instead of shipping any.
#pragma once

#include <zlib.h>

#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace torchexam::test {

inline std::vector<uint8_t> idx_bytes(const std::vector<int64_t>& dims, const std::vector<uint8_t>& data) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (int64_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) b.push_back(static_cast<uint8_t>((d >> shift) & 0xff));
  b.insert(b.end(), data.begin(), data.end());
  return b;
}

inline void write_gz(const std::filesystem::path& path, const std::vector<uint8_t>& bytes) {
  gzFile f = gzopen(path.c_str(), "wb");
  if (!f) throw std::runtime_error("cannot write " + path.string());
  gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size()));
  gzclose(f);
}

// A Fashion-MNIST-shaped data set: `train` and `test` images whose pixels
// encode the label (so a model can learn it), labels cycling 0..9 unless given.
inline void write_fashion_like(const std::filesystem::path& dir, int64_t train, std::vector<uint8_t> test_labels) {
  std::filesystem::create_directories(dir);
  auto images = [](const std::vector<uint8_t>& labels) {
    std::vector<uint8_t> px;
    for (uint8_t l : labels)
      for (int i = 0; i < 28 * 28; ++i) px.push_back(static_cast<uint8_t>((i % 10 == l) ? 255 : 0));
    return px;
  };
  std::vector<uint8_t> train_labels;
  for (int64_t i = 0; i < train; ++i) train_labels.push_back(static_cast<uint8_t>(i % 10));
  const auto n_test = static_cast<int64_t>(test_labels.size());
  write_gz(dir / "train-images-idx3-ubyte.gz", idx_bytes({train, 28, 28}, images(train_labels)));
  write_gz(dir / "train-labels-idx1-ubyte.gz", idx_bytes({train}, train_labels));
  write_gz(dir / "t10k-images-idx3-ubyte.gz", idx_bytes({n_test, 28, 28}, images(test_labels)));
  write_gz(dir / "t10k-labels-idx1-ubyte.gz", idx_bytes({n_test}, test_labels));
}

// A fresh folder /tmp/torchexam-test-NAME-PID, removed when the test
// program exits normally (a forked child that exits leaves it to the
// process that made it), so no run leaves its folders in /tmp.
inline std::filesystem::path temp_dir(const std::string& name) {
  struct Made {
    pid_t owner = ::getpid();
    std::mutex mutex;
    std::vector<std::filesystem::path> dirs;
    ~Made() {
      if (::getpid() != owner) return;
      std::error_code ec;
      for (const auto& d : dirs) std::filesystem::remove_all(d, ec);
    }
  };
  static Made made;
  auto d = std::filesystem::temp_directory_path() / ("torchexam-test-" + name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(d);
  std::filesystem::create_directories(d);
  const std::lock_guard lock(made.mutex);
  made.dirs.push_back(d);
  return d;
}

// Sets an environment variable (nullptr: unsets it) for a scope, and puts
// back what was there before.
class ScopedEnv {
 public:
  ScopedEnv(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) ::setenv(name, value, 1);
    else ::unsetenv(name);
  }
  ~ScopedEnv() {
    if (old_) ::setenv(name_.c_str(), old_->c_str(), 1);
    else ::unsetenv(name_.c_str());
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;

 private:
  std::string name_;
  std::optional<std::string> old_;
};

}  // namespace torchexam::test
