#include "exam/artifacts.hpp"

#include "base/hash.hpp"
#include "exam/service_error.hpp"

#include <fmt/format.h>

#include <utility>

namespace torchexam {
namespace fs = std::filesystem;

ArtifactKeeper::ArtifactKeeper(const store::Store& store) : db_(store.reopen()) {}

std::map<std::string, std::string> ArtifactKeeper::keep(const fs::path& job_dir) {
  std::map<std::string, std::string> out;
  if (job_dir.empty()) return out;
  const std::lock_guard lock(mu_);
  const std::pair<const char*, const char*> files[] = {{"checkpoint", "train/checkpoint.pt"},
                                                       {"train_log", "train/output.log"},
                                                       {"evaluate_log", "evaluate/output.log"},
                                                       {"predictions", "evaluate/predictions.bin"}};
  for (const auto& [name, rel] : files) {
    std::error_code ec;
    // symlink_status: a link the job left in place of its output is not followed.
    if (!fs::is_regular_file(fs::symlink_status(job_dir / rel, ec))) continue;
    try {
      out[name] = db_->put_artifact(read_file(job_dir / rel));
    } catch (const std::exception&) {
      // A missing or unreadable file is no reason to lose the verdict.
    }
  }
  return out;
}

RestoreResult restore_source(store::Store& store, const fs::path& file, const std::string& bytes,
                             const std::string& stamp) {
  RestoreResult out;
  out.file = file;
  fs::create_directories(file.parent_path());
  std::error_code ec;
  if (fs::exists(file, ec)) {
    const std::string current = read_file(file);
    if (current == bytes) return out;  // already that source: nothing to keep, nothing to write
    out.previous_hash = store.put_artifact(current);
    // A name no earlier backup has: the second it was made, then -2, -3, ...
    const std::string base = fmt::format(".{}.before-restore-{}", file.filename().string(), stamp);
    out.previous_copy = file.parent_path() / base;
    for (int n = 2; fs::exists(fs::symlink_status(out.previous_copy, ec)); ++n)
      out.previous_copy = file.parent_path() / fmt::format("{}-{}", base, n);
    write_or_refuse(out.previous_copy, current);
  }
  write_or_refuse(file, bytes);
  return out;
}

void write_or_refuse(const fs::path& path, std::string_view bytes) {
  try {
    write_file_atomically(path, bytes);
  } catch (const std::exception& e) {
    throw ServiceError(ServiceError::Kind::conflict, e.what());
  }
}

}  // namespace torchexam
