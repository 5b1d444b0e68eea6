// array_file.hpp — one dense array in a file: how staged task data (the
// training split, the hidden test inputs) travels from the trusted harness to
// the sandboxed runner without the runner ever opening the data set or the
// task plugin.
//
// Format, version 1 (every integer little-endian; docs/runner.md):
//   offset  size  field
//        0     8  magic "TXARRAY\0"
//        8     4  uint32 version (1)
//       12     4  int32  dtype (torchexam_dtype)
//       16     4  int32  ndim (0..TORCHEXAM_MAX_DIMS)
//       20     4  uint32 reserved, 0
//       24    64  int64  shape[8] (unused dimensions 0)
//       88     8  uint64 data offset (a multiple of 64, >= 128)
//       96     8  uint64 data bytes (= numel * dtype size)
//      104    24  zero padding
//   offset ...    the elements in C order, little-endian; the file ends
//                 exactly at data offset + data bytes.
//
// Writing (trusted side): write_array_file() writes a temporary file in the
// same folder and renames it into place, so a reader never sees half a file.
// Reading (runner, possibly a hostile or damaged file): MappedArrayFile maps
// the file privately (copy-on-write, so writes through a tensor never reach
// the file) and checks every field and size against the file's length before
// any data is touched. Every failure throws ArrayFileError naming the file and
// what is wrong; a corrupt or truncated file never crashes the reader.
// Threads: a MappedArrayFile is immutable after open() and may be shared.
#pragma once

#include <torchexam/plugin_abi.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <vector>

namespace torchexam::sandbox {

class ArrayFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr uint32_t kArrayFileVersion = 1;
inline constexpr uint64_t kArrayFileHeaderBytes = 128;
inline constexpr uint64_t kArrayFileAlignment = 64;

// Writes `a` (dense, C order) to `path` atomically. Throws ArrayFileError on
// a bad array (unknown dtype, too many dimensions, negative sizes) or an I/O
// failure, naming the file.
void write_array_file(const std::filesystem::path& path, const torchexam_array& a);

class MappedArrayFile {
 public:
  // Maps and validates `path`. Throws ArrayFileError.
  static std::shared_ptr<const MappedArrayFile> open(const std::filesystem::path& path);
  ~MappedArrayFile();
  MappedArrayFile(const MappedArrayFile&) = delete;
  MappedArrayFile& operator=(const MappedArrayFile&) = delete;

  int32_t dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t numel() const;
  // The first element: 64-byte aligned, writable (private mapping), valid as
  // long as this object lives. Null for an empty array.
  void* data() const { return data_; }
  uint64_t bytes() const { return bytes_; }
  const std::filesystem::path& path() const { return path_; }
  // A borrowed view (release = NULL) for code that speaks torchexam_array.
  torchexam_array view() const;

 private:
  MappedArrayFile() = default;
  std::filesystem::path path_;
  void* map_ = nullptr;
  size_t map_bytes_ = 0;
  void* data_ = nullptr;
  uint64_t bytes_ = 0;
  int32_t dtype_ = 0;
  std::vector<int64_t> shape_;
};

}  // namespace torchexam::sandbox
