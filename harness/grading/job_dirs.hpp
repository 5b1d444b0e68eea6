// job_dirs.hpp — the folders gradings work in (<state dir>/jobs/<name>) and
// how old ones are pruned.
//
// A job folder is scratch: the staged data and builds live in the cache, and
// what history and regrading need from a job (the source snapshot, the
// checkpoint, the candidate's output logs, the result) is kept by the store
// (exam service) or printed (`torchexam grade`). Policy: after each grading
// the newest kKeepJobDirs folders stay (to look at a recent job's
// output.log, runner.stderr or predictions), every folder a grading is
// working in stays (it holds JobDirInUse), and the rest are removed.
//
// Threads: any; several processes may prune one folder at once (removal of
// an entry that is already gone is not an error). Failure to remove a
// folder is reported in the result, never thrown.
#pragma once

#include "base/hash.hpp"  // FileLock

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

namespace torchexam {

inline constexpr size_t kKeepJobDirs = 20;

// Marks `dir` as in use (an exclusive flock on dir/.in-use) while alive;
// pruning never removes it. Creates `dir` if missing. Throws when the lock
// file cannot be created.
class JobDirInUse {
 public:
  explicit JobDirInUse(const std::filesystem::path& dir);

 private:
  FileLock lock_;
};

struct PruneReport {
  size_t removed = 0;
  uint64_t bytes = 0;
  std::vector<std::string> errors;  // "<folder>: <why>" for each that could not be removed
};

// Removes the folders of `jobs_dir` beyond the `keep` newest (by
// modification time) that no JobDirInUse holds and that `removable` (by
// folder name) allows: the daemon and `torchexam grade` share the folder
// and each prunes only its own. A missing `jobs_dir` is nothing to do.
PruneReport prune_job_dirs(const std::filesystem::path& jobs_dir, size_t keep,
                           const std::function<bool(const std::string& name)>& removable);

}  // namespace torchexam
