#include "sandbox/predictions.hpp"

#include <cstring>
#include <fstream>
#include <stdexcept>
#include <vector>

namespace torchexam::sandbox {
namespace {
constexpr char kMagic[8] = {'T', 'X', 'P', 'R', 'E', 'D', '0', '1'};
constexpr int64_t kMaxBytes = int64_t{4} << 30;
}  // namespace

void write_predictions(const std::filesystem::path& path, const torchexam_array& a) {
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) throw std::runtime_error("cannot create " + tmp);
    out.write(kMagic, sizeof kMagic);
    out.write(reinterpret_cast<const char*>(&a.dtype), sizeof a.dtype);
    out.write(reinterpret_cast<const char*>(&a.ndim), sizeof a.ndim);
    int64_t n = 1;
    for (int32_t i = 0; i < a.ndim; ++i) {
      out.write(reinterpret_cast<const char*>(&a.shape[i]), sizeof a.shape[i]);
      n *= a.shape[i];
    }
    out.write(static_cast<const char*>(a.data), static_cast<std::streamsize>(n * static_cast<int64_t>(dtype_size(a.dtype))));
    if (!out.flush()) throw std::runtime_error("cannot write " + tmp);
  }
  std::filesystem::rename(tmp, path);
}

Array read_predictions(const std::filesystem::path& path) {
  // Written by untrusted code: a link could point the trusted scorer at any file.
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec))
    throw MalformedPredictions("the predictions file " + path.string() + " is a symbolic link: refused");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw MalformedPredictions("no predictions file at " + path.string());
  auto bad = [&](const std::string& why) {
    return MalformedPredictions("malformed predictions file " + path.string() + ": " + why);
  };
  char magic[8];
  int32_t dtype = 0, ndim = 0;
  if (!in.read(magic, 8) || std::memcmp(magic, kMagic, 8) != 0) throw bad("bad magic");
  if (!in.read(reinterpret_cast<char*>(&dtype), 4) || !in.read(reinterpret_cast<char*>(&ndim), 4))
    throw bad("truncated header");
  if (dtype_size(dtype) == 0) throw bad("unknown dtype " + std::to_string(dtype));
  if (ndim < 1 || ndim > TORCHEXAM_MAX_DIMS) throw bad("dimension count " + std::to_string(ndim));
  std::vector<int64_t> shape(static_cast<size_t>(ndim));
  int64_t bytes = static_cast<int64_t>(dtype_size(dtype));
  for (auto& d : shape) {
    if (!in.read(reinterpret_cast<char*>(&d), 8)) throw bad("truncated shape");
    if (d < 0 || d > kMaxBytes) throw bad("dimension " + std::to_string(d) + " out of range");
    // bytes * d <= kMaxBytes, checked without overflowing
    if (d != 0 && bytes > kMaxBytes / d) throw bad("more than 4 GiB of predictions");
    bytes *= d;
  }
  std::vector<uint8_t> data(static_cast<size_t>(bytes));
  if (bytes && !in.read(reinterpret_cast<char*>(data.data()), bytes)) throw bad("truncated data");
  if (in.peek() != std::char_traits<char>::eof()) throw bad("trailing bytes after the data");
  return Array(Array::from_vector(std::move(data), dtype, shape));
}

}  // namespace torchexam::sandbox
