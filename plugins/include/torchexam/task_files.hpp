// torchexam/task_files.hpp — a task plugin's data files, checked by sha256,
// and a deterministic hidden split (the plugin author's side; candidate code
// never includes it). `torchexam new-task` scaffolds plugins on it.
//
// A task names its data in two plugin options (task.yaml `options:`):
//   data_dir: the folder holding the files
//   files:    "name=<sha256>[,name=<sha256>...]", names relative to data_dir
// read_checked_files() reads each file and refuses one whose sha256 differs
// from the list, so a changed data set is never graded against a ladder
// calibrated on another. sha256_hex() is a plain SHA-256 (FIPS 180-4), so a
// plugin links nothing for it.
//
// hidden_by_hash(keys, percent): the `percent`% of samples whose FNV-1a hash
// of their key is smallest are hidden (the test split), as the built-in
// plugins split; the same keys give the same split on every machine.
//
// read_csv_numbers(): rows of comma-separated numbers, '#' comments and
// blank lines skipped; every row must have `columns` values.
//
// Failure: std::runtime_error / std::invalid_argument whose message names the
// file, the line and what to do. Thread-safe: no state.
#pragma once

#include <torchexam/plugin.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iterator>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torchexam {

namespace detail {

inline uint32_t rotr32(uint32_t x, int n) { return (x >> n) | (x << (32 - n)); }

inline void sha256_block(uint32_t h[8], const unsigned char* p) {
  static const uint32_t k[64] = {
      0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
      0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
      0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
      0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
      0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
      0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
      0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
      0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2};
  uint32_t w[64];
  for (int i = 0; i < 16; ++i)
    w[i] = (uint32_t(p[4 * i]) << 24) | (uint32_t(p[4 * i + 1]) << 16) | (uint32_t(p[4 * i + 2]) << 8) |
           uint32_t(p[4 * i + 3]);
  for (int i = 16; i < 64; ++i) {
    const uint32_t s0 = rotr32(w[i - 15], 7) ^ rotr32(w[i - 15], 18) ^ (w[i - 15] >> 3);
    const uint32_t s1 = rotr32(w[i - 2], 17) ^ rotr32(w[i - 2], 19) ^ (w[i - 2] >> 10);
    w[i] = w[i - 16] + s0 + w[i - 7] + s1;
  }
  uint32_t a = h[0], b = h[1], c = h[2], d = h[3], e = h[4], f = h[5], g = h[6], hh = h[7];
  for (int i = 0; i < 64; ++i) {
    const uint32_t t1 = hh + (rotr32(e, 6) ^ rotr32(e, 11) ^ rotr32(e, 25)) + ((e & f) ^ (~e & g)) + k[i] + w[i];
    const uint32_t t2 = (rotr32(a, 2) ^ rotr32(a, 13) ^ rotr32(a, 22)) + ((a & b) ^ (a & c) ^ (b & c));
    hh = g;
    g = f;
    f = e;
    e = d + t1;
    d = c;
    c = b;
    b = a;
    a = t1 + t2;
  }
  h[0] += a, h[1] += b, h[2] += c, h[3] += d, h[4] += e, h[5] += f, h[6] += g, h[7] += hh;
}

}  // namespace detail

// SHA-256 of `bytes` as 64 lower-case hex digits (what `sha256sum` prints).
inline std::string sha256_hex(std::string_view bytes) {
  uint32_t h[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  std::string tail(bytes.substr(bytes.size() - bytes.size() % 64));
  const size_t whole = bytes.size() - tail.size();
  for (size_t i = 0; i < whole; i += 64) detail::sha256_block(h, reinterpret_cast<const unsigned char*>(bytes.data() + i));
  tail += '\x80';
  while (tail.size() % 64 != 56) tail += '\0';
  const uint64_t bits = static_cast<uint64_t>(bytes.size()) * 8;
  for (int i = 7; i >= 0; --i) tail += static_cast<char>((bits >> (8 * i)) & 0xff);
  for (size_t i = 0; i < tail.size(); i += 64) detail::sha256_block(h, reinterpret_cast<const unsigned char*>(tail.data() + i));
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (uint32_t word : h)
    for (int shift = 28; shift >= 0; shift -= 4) out += kHex[(word >> shift) & 0xf];
  return out;
}

struct DataFile {
  std::string name;    // relative to data_dir
  std::string sha256;  // 64 lower-case hex digits
};

// "a.csv=<sha256>,b.csv=<sha256>" -> the list. Throws std::invalid_argument
// saying what a well-formed list looks like.
inline std::vector<DataFile> parse_file_list(const std::string& text) {
  std::vector<DataFile> out;
  std::stringstream in(text);
  std::string entry;
  while (std::getline(in, entry, ',')) {
    const size_t eq = entry.find('=');
    DataFile f;
    if (eq != std::string::npos) f = {entry.substr(0, eq), entry.substr(eq + 1)};
    const bool hex = f.sha256.size() == 64 && std::all_of(f.sha256.begin(), f.sha256.end(), [](char c) {
                       return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
                     });
    if (f.name.empty() || !hex || f.name.front() == '/' || f.name.find("..") != std::string::npos)
      throw std::invalid_argument("option files: entry '" + entry +
                                  "' must be NAME=SHA256 (a file name inside data_dir, then its 64-digit lower-case "
                                  "sha256 as `sha256sum NAME` prints it)");
    out.push_back(std::move(f));
  }
  if (out.empty()) throw std::invalid_argument("option files is empty: list the data files as NAME=SHA256,...");
  return out;
}

// Each listed file's bytes, in list order, after checking its sha256.
inline std::vector<std::pair<DataFile, std::string>> read_checked_files(const std::string& data_dir,
                                                                        const std::vector<DataFile>& files) {
  std::vector<std::pair<DataFile, std::string>> out;
  for (const DataFile& f : files) {
    const std::string path = data_dir + "/" + f.name;
    std::ifstream in(path, std::ios::binary);
    if (!in) throw std::runtime_error("cannot open " + path + " (listed in option files; is data_dir right?)");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw std::runtime_error("cannot read " + path);
    const std::string actual = sha256_hex(bytes);
    if (actual != f.sha256)
      throw std::runtime_error(path + " has sha256 " + actual + ", but option files lists " + f.sha256 +
                               ": the data changed since the task was set up; restore the file, or update the list "
                               "(and calibrate the ladder again: torchexam calibrate ENV TASK --write)");
    out.emplace_back(f, std::move(bytes));
  }
  return out;
}

// One CSV row of numbers and where it came from.
struct CsvRow {
  std::string key;  // "<file name>:<line>", the row's stable identity
  std::vector<double> values;
};

inline std::vector<CsvRow> read_csv_numbers(const std::string& name, const std::string& text, size_t columns) {
  std::vector<CsvRow> rows;
  std::stringstream in(text);
  std::string line;
  for (size_t number = 1; std::getline(in, line); ++number) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    const size_t first = line.find_first_not_of(" \t");
    if (first == std::string::npos || line[first] == '#') continue;
    CsvRow row{name + ":" + std::to_string(number), {}};
    std::stringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) {
      char* end = nullptr;
      const double v = std::strtod(cell.c_str(), &end);
      while (end && (*end == ' ' || *end == '\t')) ++end;
      if (cell.find_first_not_of(" \t") == std::string::npos || !end || *end != '\0' || !std::isfinite(v))
        throw std::runtime_error(row.key + ": '" + cell + "' is not a finite number");
      row.values.push_back(v);
    }
    if (row.values.size() != columns)
      throw std::runtime_error(row.key + ": " + std::to_string(row.values.size()) + " values, expected " +
                               std::to_string(columns));
    rows.push_back(std::move(row));
  }
  return rows;
}

// is_hidden[i] for keys[i]: the `percent`% of keys with the smallest FNV-1a
// hash (ties by position), at least one and at most all but one when there
// are two keys or more.
inline std::vector<bool> hidden_by_hash(const std::vector<std::string>& keys, uint64_t percent) {
  const size_t n = keys.size();
  std::vector<size_t> order(n);
  for (size_t i = 0; i < n; ++i) order[i] = i;
  std::vector<uint64_t> hash(n);
  for (size_t i = 0; i < n; ++i) hash[i] = fnv1a64(keys[i]);
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return hash[a] != hash[b] ? hash[a] < hash[b] : a < b; });
  size_t hidden = (n * percent + 50) / 100;
  if (n >= 2) hidden = std::min(std::max<size_t>(hidden, 1), n - 1);
  std::vector<bool> out(n, false);
  for (size_t i = 0; i < hidden && i < n; ++i) out[order[i]] = true;
  return out;
}

}  // namespace torchexam
