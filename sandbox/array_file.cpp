#include "sandbox/array_file.hpp"

#include <torchexam/plugin.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <cstddef>
#include <cstring>
#include <random>
#include <string>

namespace torchexam::sandbox {
namespace fs = std::filesystem;

// The header is copied with memcpy and the data written as it lies in
// memory: both are little-endian only on a little-endian host.
static_assert(std::endian::native == std::endian::little, "array files are little-endian; port write/read first");

namespace {

constexpr char kMagic[8] = {'T', 'X', 'A', 'R', 'R', 'A', 'Y', '\0'};
// Larger than any staged array we expect by far; stops size arithmetic from
// overflowing on a hostile header.
constexpr uint64_t kMaxDataBytes = uint64_t{1} << 40;

struct Header {
  char magic[8];
  uint32_t version;
  int32_t dtype;
  int32_t ndim;
  uint32_t reserved;
  int64_t shape[TORCHEXAM_MAX_DIMS];
  uint64_t data_offset;
  uint64_t data_bytes;
  char padding[24];
};
static_assert(sizeof(Header) == kArrayFileHeaderBytes);
static_assert(offsetof(Header, shape) == 24 && offsetof(Header, data_offset) == 88 &&
              offsetof(Header, data_bytes) == 96);

std::string errno_text(int e) { return std::strerror(e); }

// numel * element size, or an error message; checks every dimension.
uint64_t data_bytes_of(int32_t dtype, int32_t ndim, const int64_t* shape, std::string* why) {
  const uint64_t elem = dtype_size(dtype);
  if (elem == 0) {
    *why = "unknown dtype " + std::to_string(dtype);
    return 0;
  }
  if (ndim < 0 || ndim > TORCHEXAM_MAX_DIMS) {
    *why = "dimension count " + std::to_string(ndim) + " is outside 0.." + std::to_string(TORCHEXAM_MAX_DIMS);
    return 0;
  }
  uint64_t bytes = elem;
  for (int32_t i = 0; i < ndim; ++i) {
    if (shape[i] < 0) {
      *why = "dimension " + std::to_string(i) + " is negative (" + std::to_string(shape[i]) + ")";
      return 0;
    }
    const auto d = static_cast<uint64_t>(shape[i]);
    if (d != 0 && bytes > kMaxDataBytes / d) {
      *why = "the shape " + shape_string(shape, ndim) + " describes more than 1 TiB";
      return 0;
    }
    bytes *= d;
  }
  why->clear();
  return bytes;
}

void write_all(int fd, const void* data, uint64_t n, const std::string& path) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n > (uint64_t{1} << 30) ? (size_t{1} << 30) : static_cast<size_t>(n));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) throw ArrayFileError("cannot write the array file " + path + ": " + errno_text(errno));
    p += w;
    n -= static_cast<uint64_t>(w);
  }
}

}  // namespace

void write_array_file(const fs::path& path, const torchexam_array& a) {
  std::string why;
  const uint64_t bytes = data_bytes_of(a.dtype, a.ndim, a.shape, &why);
  if (!why.empty()) throw ArrayFileError("cannot write the array file " + path.string() + ": " + why);
  if (bytes > 0 && !a.data) throw ArrayFileError("cannot write the array file " + path.string() + ": no data");

  Header h{};
  std::memcpy(h.magic, kMagic, sizeof kMagic);
  h.version = kArrayFileVersion;
  h.dtype = a.dtype;
  h.ndim = a.ndim;
  for (int32_t i = 0; i < a.ndim; ++i) h.shape[i] = a.shape[i];
  h.data_offset = kArrayFileHeaderBytes;  // already a multiple of the alignment
  h.data_bytes = bytes;

  std::random_device rd;
  const std::string tmp = path.string() + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(rd());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
  if (fd < 0) throw ArrayFileError("cannot create " + tmp + ": " + errno_text(errno));
  try {
    write_all(fd, &h, sizeof h, tmp);
    write_all(fd, a.data, bytes, tmp);
    if (::close(fd) != 0) {
      const int e = errno;
      fs::remove(tmp);
      throw ArrayFileError("cannot write the array file " + tmp + ": " + errno_text(e));
    }
  } catch (const ArrayFileError&) {
    ::close(fd);
    std::error_code ec;
    fs::remove(tmp, ec);
    throw;
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const int e = errno;
    std::error_code ec;
    fs::remove(tmp, ec);
    throw ArrayFileError("cannot move " + tmp + " to " + path.string() + ": " + errno_text(e));
  }
}

std::shared_ptr<const MappedArrayFile> MappedArrayFile::open(const fs::path& path) {
  auto bad = [&](const std::string& why) {
    return ArrayFileError("malformed array file " + path.string() + ": " + why);
  };
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw ArrayFileError("cannot open the array file " + path.string() + ": " + errno_text(errno));
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const int e = errno;
    ::close(fd);
    throw ArrayFileError("cannot stat the array file " + path.string() + ": " + errno_text(e));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw bad("not a regular file");
  }
  const auto size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(Header)) {
    ::close(fd);
    throw bad("truncated header (" + std::to_string(size) + " bytes, a header is " +
              std::to_string(sizeof(Header)) + ")");
  }
  // Private, writable mapping: a candidate's in-place tensor op changes its
  // own copy of a page, never the staged file.
  void* map = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
  const int map_errno = errno;
  ::close(fd);
  if (map == MAP_FAILED) throw ArrayFileError("cannot map the array file " + path.string() + ": " + errno_text(map_errno));

  std::shared_ptr<MappedArrayFile> out(new MappedArrayFile);
  out->path_ = path;
  out->map_ = map;
  out->map_bytes_ = size;

  Header h;
  std::memcpy(&h, map, sizeof h);
  if (std::memcmp(h.magic, kMagic, sizeof kMagic) != 0) throw bad("bad magic (not a TorchExam array file)");
  if (h.version != kArrayFileVersion)
    throw bad("format version " + std::to_string(h.version) + ", this runner reads version " +
              std::to_string(kArrayFileVersion));
  std::string why;
  const uint64_t expected = data_bytes_of(h.dtype, h.ndim, h.shape, &why);
  if (!why.empty()) throw bad(why);
  for (int32_t i = h.ndim; i < TORCHEXAM_MAX_DIMS; ++i)
    if (h.shape[i] != 0) throw bad("unused dimension " + std::to_string(i) + " is not 0");
  if (h.data_offset < sizeof(Header) || h.data_offset % kArrayFileAlignment != 0)
    throw bad("data offset " + std::to_string(h.data_offset) + " is not a multiple of " +
              std::to_string(kArrayFileAlignment) + " after the header");
  if (h.data_bytes != expected)
    throw bad("the header declares " + std::to_string(h.data_bytes) + " data bytes, but the shape " +
              shape_string(h.shape, h.ndim) + " " + dtype_name(h.dtype) + " needs " + std::to_string(expected));
  if (h.data_offset > size || size - h.data_offset < h.data_bytes)
    throw bad("truncated data (" + std::to_string(size) + " bytes in the file, the header needs " +
              std::to_string(h.data_offset) + " + " + std::to_string(h.data_bytes) + ")");
  if (size - h.data_offset != h.data_bytes)
    throw bad(std::to_string(size - h.data_offset - h.data_bytes) + " trailing bytes after the data");

  out->dtype_ = h.dtype;
  out->shape_.assign(h.shape, h.shape + h.ndim);
  out->bytes_ = h.data_bytes;
  out->data_ = h.data_bytes ? static_cast<char*>(map) + h.data_offset : nullptr;
  return out;
}

MappedArrayFile::~MappedArrayFile() {
  if (map_) ::munmap(map_, map_bytes_);
}

int64_t MappedArrayFile::numel() const {
  int64_t n = 1;
  for (auto d : shape_) n *= d;
  return n;
}

torchexam_array MappedArrayFile::view() const {
  torchexam_array a{};
  a.dtype = dtype_;
  a.ndim = static_cast<int32_t>(shape_.size());
  for (size_t i = 0; i < shape_.size(); ++i) a.shape[i] = shape_[i];
  a.data = data_;
  return a;
}

}  // namespace torchexam::sandbox
