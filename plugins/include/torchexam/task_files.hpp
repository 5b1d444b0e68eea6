// torchexam/task_files.hpp — a task plugin's data files, checked by sha256,
// and a deterministic hidden split (the plugin author's side; candidate code
// never includes it). `torchexam new-task` scaffolds plugins on it.
//
// A task names its data in two plugin options (task.yaml `options:`):
//   data_dir: the folder holding the files
//   files:    "name=<sha256>[,name=<sha256>...]", names relative to data_dir
// read_checked_files() reads each file and refuses one whose sha256 differs
// from the list, so a changed data set is never graded against a ladder
// calibrated on another. sha256_of_bytes() is OpenSSL's SHA-256: a plugin
// on torchexam::sdk links OpenSSL::Crypto.
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

#include <openssl/evp.h>

#include <algorithm>
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

// SHA-256 of `bytes` as 64 lower-case hex digits (what `sha256sum` prints),
// by OpenSSL (torchexam::sdk links OpenSSL::Crypto).
inline std::string sha256_of_bytes(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_Digest(bytes.data(), bytes.size(), digest, &size, EVP_sha256(), nullptr) != 1)
    throw std::runtime_error("OpenSSL could not compute a SHA-256");
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned i = 0; i < size; ++i) {
    out += kHex[digest[i] >> 4];
    out += kHex[digest[i] & 15];
  }
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
    const std::string actual = sha256_of_bytes(bytes);
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
