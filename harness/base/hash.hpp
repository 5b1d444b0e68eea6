// hash.hpp — SHA-256 (OpenSSL) for content addressing: build cache keys and
// source snapshots. Pure functions; throw std::runtime_error on I/O failure.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace torchexam {

class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;
  Sha256& update(std::string_view data);
  // Adds a length prefix so that ("ab","c") and ("a","bc") differ.
  Sha256& field(std::string_view data);
  std::string hex();  // finishes; the object is then spent

 private:
  void* ctx_;
};

std::string sha256_hex(std::string_view data);
// True when `text` could be sha256_hex's result: 64 lower-case hex digits.
bool is_sha256_hex(std::string_view text);
std::string read_file(const std::filesystem::path& path);
// Writes a temporary file beside `path` and renames it into place: readers
// see the old content or the new, never a part. Throws on failure.
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes);

// Holds an exclusive flock() on `file` (created if missing) while alive, so
// that the makers of one cache entry take turns across threads and
// processes. Throws when the file cannot be created.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& file);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;

 private:
  int fd_;
};

}  // namespace torchexam
