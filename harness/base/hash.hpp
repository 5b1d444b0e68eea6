// hash.hpp — SHA-256 (OpenSSL) for content addressing: build cache keys and
// source snapshots. Pure functions; throw std::runtime_error on I/O failure.
#pragma once

#include <atomic>
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
// sha256_hex of a file's bytes, remembered for the life of the process by the
// file's identity and stamps (device, inode, size, modification and change
// times): a file unchanged since an earlier call is not read again. An
// in-place edit that keeps the size within one tick of the file system's
// clock (a few ms) of the last read is not seen: this is for cache keys and
// fingerprints of files that are replaced or rewritten, not patched in a
// burst (plugins, data sets, job copies of sources); verifying a download
// against its pin reads the bytes (sha256_hex(read_file(...))).
// Thread-safe; throws like read_file.
std::string file_sha256(const std::filesystem::path& path);
// Writes `bytes` to a unique temporary file beside `path` (mkstemp) and
// renames it into place: readers see the old content or the new, never a
// part, and concurrent writers of one path leave one content whole. With
// Durability::synced the file is fsync'ed before the rename and its folder
// after, so the new content has reached the disk when the call returns (the
// store's artifacts). Failure: std::system_error naming the step, the path
// and errno's text ("cannot write /x/.tmp-AbC123: No space left on device");
// no temporary file is left behind.
enum class Durability { renamed, synced };
void write_file_atomically(const std::filesystem::path& path, std::string_view bytes,
                           Durability durability = Durability::renamed);
// Makes a folder's entries (a file created or renamed in it) durable.
// Failure: std::system_error as above.
void fsync_dir(const std::filesystem::path& dir);

// Holds an exclusive flock() on `file` (created if missing) while alive, so
// that the makers of one cache entry take turns across threads and
// processes. Throws when the file cannot be created.
//
// With `cancel`, the wait gives up once *cancel is true (looked at every
// 50 ms while another holder has the lock): held() is then false and the
// caller must not touch what the lock guards. Without it, held() is always
// true once constructed.
class FileLock {
 public:
  explicit FileLock(const std::filesystem::path& file, const std::atomic<bool>* cancel = nullptr);
  ~FileLock();
  FileLock(const FileLock&) = delete;
  FileLock& operator=(const FileLock&) = delete;
  bool held() const { return held_; }

 private:
  int fd_;
  bool held_ = false;
};

}  // namespace torchexam
