// artifacts.hpp — what the store keeps of a submission besides its record:
// a finished job's checkpoint and logs, by content hash; and the way back
// from a stored source to the candidate's workspace.
//
// ArtifactKeeper hashes and writes a job's files (with fsync: 3-25 ms for
// the fashion_mnist checkpoint) on the thread that graded it, through a
// store connection of its own, so the io thread only records the hashes.
// restore_source() runs on the io thread with the io thread's store.
//
// Threads: ArtifactKeeper::keep() from any thread (serialised inside);
// restore_source() and write_or_refuse() on any one thread with its store.
// Failure: keep() skips a file it cannot read or store (no reason to lose
// the verdict); restore_source() and write_or_refuse() throw ServiceError
// (conflict) when a file cannot be written.
#pragma once

#include "store/store.hpp"

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

namespace torchexam {

class ArtifactKeeper {
 public:
  // Opens a connection of its own to `store`'s database (Store::reopen()).
  explicit ArtifactKeeper(const store::Store& store);
  // The job's checkpoint, logs and predictions that exist as regular files
  // (a symlink is not followed), stored: {"checkpoint": hash, "train_log":
  // ..., "evaluate_log": ..., "predictions": ...}. The predictions are what
  // a regrade's rescore scores again (grading/rescore.hpp).
  std::map<std::string, std::string> keep(const std::filesystem::path& job_dir);

 private:
  std::mutex mu_;
  std::unique_ptr<store::Store> db_;
};

struct RestoreResult {
  std::filesystem::path file;           // the solution file written
  std::string previous_hash;            // artifact holding what it replaced
  std::filesystem::path previous_copy;  // and a copy beside it
  friend bool operator==(const RestoreResult&, const RestoreResult&) = default;
};

// Writes `bytes` (a stored source) to `file`. What `file` held, if it
// differs, is kept as an artifact and as a hidden copy beside it,
// .<name>.before-restore-<stamp>[-N], never overwriting an earlier copy.
RestoreResult restore_source(store::Store& store, const std::filesystem::path& file, const std::string& bytes,
                             const std::string& stamp);

// write_file_atomically, refused with ServiceError (conflict) on failure.
void write_or_refuse(const std::filesystem::path& path, std::string_view bytes);

}  // namespace torchexam
