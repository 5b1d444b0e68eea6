// durable_file.hpp — file writes that survive a crash or a power loss, for
// the store's artifacts.
//
// write_durably(path, bytes) writes atomically and durably: a unique
// temporary file in the same folder, fsync'ed, renamed over `path`, then the
// folder fsync'ed; readers see the old content or the new, never a part, and
// the new has reached the disk when the call returns. fsync_dir(dir) makes a
// folder's entries (a file created or renamed in it) durable.
//
// Failure: StoreError naming the operation, the path and errno's text; a
// failed write_durably leaves no temporary file. Threads: no shared state;
// concurrent writes of one path leave one of the contents whole.
#pragma once

#include <filesystem>
#include <string_view>

namespace torchexam::store {

void write_durably(const std::filesystem::path& path, std::string_view bytes);
void fsync_dir(const std::filesystem::path& dir);

}  // namespace torchexam::store
