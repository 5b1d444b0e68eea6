#include <doctest/doctest.h>
#include <torchexam/data/idx.hpp>

#include "idx_writer.hpp"

using torchexam::data::parse_idx;
using torchexam::test::idx_bytes;

namespace {
std::string error_of(const std::vector<uint8_t>& bytes) {
  try {
    parse_idx(bytes, "f.idx");
  } catch (const std::runtime_error& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_SUITE("idx") {
  TEST_CASE("a generated 3-d file parses to its dims and bytes") {
    std::vector<uint8_t> data(2 * 3 * 4);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(i);
    auto a = parse_idx(idx_bytes({2, 3, 4}, data), "f");
    CHECK(a.dims == std::vector<int64_t>{2, 3, 4});
    CHECK(a.data == data);
  }

  TEST_CASE("max_items keeps the first items only") {
    std::vector<uint8_t> data = {1, 2, 3, 4, 5, 6};
    auto a = parse_idx(idx_bytes({3, 2}, data), "f", 2);
    CHECK(a.dims == std::vector<int64_t>{2, 2});
    CHECK(a.data == std::vector<uint8_t>{1, 2, 3, 4});
  }

  TEST_CASE("gzip round trip through zlib") {
    auto dir = torchexam::test::temp_dir("idx");
    std::vector<uint8_t> labels = {9, 8, 7};
    torchexam::test::write_gz(dir / "l.gz", idx_bytes({3}, labels));
    auto a = torchexam::data::read_idx((dir / "l.gz").string());
    CHECK(a.data == labels);
    std::filesystem::remove_all(dir);
  }

  TEST_CASE("malformed files are rejected with the reason") {
    CHECK(error_of({0, 0}).find("shorter than its 4-byte header") != std::string::npos);
    CHECK(error_of({1, 0, 8, 1, 0, 0, 0, 0}).find("bad magic") != std::string::npos);
    CHECK(error_of({0, 0, 0x0d, 1, 0, 0, 0, 0}).find("not supported") != std::string::npos);
    CHECK(error_of({0, 0, 8, 2, 0, 0}).find("truncated dimension table") != std::string::npos);
    CHECK(error_of(idx_bytes({5}, {1, 2})).find("header promises 5 bytes, file has 2") != std::string::npos);
    CHECK(error_of({0, 0, 8, 0}).find("out of range") != std::string::npos);
  }

  TEST_CASE("a missing file names the path") {
    try {
      torchexam::data::read_idx("/nonexistent/x.gz");
      FAIL("no error");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find("/nonexistent/x.gz") != std::string::npos);
    }
  }
}
