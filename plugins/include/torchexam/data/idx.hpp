// torchexam/data/idx.hpp — reader for the IDX format of (Fashion-)MNIST,
// plain or gzip-compressed (zlib's gz* functions read both).
//
// IDX: two zero bytes, a type byte (0x08 = unsigned byte, the only type the
// exam's data sets use), a dimension count, then that many big-endian uint32
// sizes, then the data in C order.
//
// Failure: throws std::runtime_error naming the file and what is wrong with
// it (missing, truncated, wrong magic, unsupported type). Thread-safe: no
// shared state.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace torchexam::data {

struct IdxArray {
  std::vector<int64_t> dims;  // dims[0] is the item count
  std::vector<uint8_t> data;  // dims product bytes
};

// Parses an IDX image held in memory. `max_items` > 0 keeps only the first
// max_items items. `what` names the source in error messages.
inline IdxArray parse_idx(const std::vector<uint8_t>& bytes, const std::string& what,
                          int64_t max_items = 0) {
  auto fail = [&](const std::string& why) {
    throw std::runtime_error(what + ": not a valid IDX file: " + why);
  };
  if (bytes.size() < 4) fail("shorter than its 4-byte header");
  if (bytes[0] != 0 || bytes[1] != 0) fail("bad magic (first two bytes must be zero)");
  if (bytes[2] != 0x08)
    fail("element type 0x" + std::to_string(bytes[2]) + " is not supported (only 0x08, unsigned byte)");
  const size_t ndim = bytes[3];
  if (ndim == 0 || ndim > 4) fail("dimension count " + std::to_string(ndim) + " is out of range 1..4");
  if (bytes.size() < 4 + 4 * ndim) fail("truncated dimension table");
  IdxArray out;
  int64_t total = 1;
  for (size_t i = 0; i < ndim; ++i) {
    const uint8_t* p = &bytes[4 + 4 * i];
    int64_t d = (int64_t{p[0]} << 24) | (int64_t{p[1]} << 16) | (int64_t{p[2]} << 8) | p[3];
    out.dims.push_back(d);
    total *= d;
  }
  const size_t header = 4 + 4 * ndim;
  if (bytes.size() - header < static_cast<size_t>(total))
    fail("truncated data: header promises " + std::to_string(total) + " bytes, file has " +
         std::to_string(bytes.size() - header));
  int64_t items = out.dims[0];
  if (max_items > 0 && max_items < items) items = max_items;
  const int64_t per_item = out.dims[0] ? total / out.dims[0] : 0;
  out.dims[0] = items;
  out.data.assign(bytes.begin() + static_cast<std::ptrdiff_t>(header),
                  bytes.begin() + static_cast<std::ptrdiff_t>(header + items * per_item));
  return out;
}

// Reads a whole (optionally gzipped) file into memory.
inline std::vector<uint8_t> read_gz_file(const std::string& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot open '" + path + "'");
  std::vector<uint8_t> out;
  std::vector<uint8_t> chunk(1 << 20);
  for (;;) {
    int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n < 0) {
      int code = 0;
      std::string msg = gzerror(f, &code);
      gzclose(f);
      throw std::runtime_error("cannot read '" + path + "': " + msg);
    }
    if (n == 0) break;
    out.insert(out.end(), chunk.begin(), chunk.begin() + n);
  }
  gzclose(f);
  return out;
}

inline IdxArray read_idx(const std::string& path, int64_t max_items = 0) {
  return parse_idx(read_gz_file(path), path, max_items);
}

}  // namespace torchexam::data
