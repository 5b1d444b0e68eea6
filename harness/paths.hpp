// paths.hpp — where TorchExam finds its parts and keeps its files.
//
// Binaries find each other relative to the running executable (bin/ and
// lib/torchexam/ side by side in the build tree), so a build directory works
// as it is. Environment variables override:
//   TORCHEXAM_RUNNER       the runner executable
//   TORCHEXAM_SANDBOX      the sandbox for the compiler (torchexam-sandbox)
//   TORCHEXAM_PLUGIN_PATH  ':'-separated folders searched for task plugins first
//   TORCHEXAM_CACHE_DIR    build cache and precompiled headers
//                          (default $XDG_CACHE_HOME/torchexam or ~/.cache/torchexam)
//   TORCHEXAM_STATE_DIR    the daemon's database and artifacts, job folders
//                          (default $XDG_STATE_HOME/torchexam or ~/.local/state/torchexam)
//   TORCHEXAM_SOCKET       the daemon's socket
// Lookups throw std::runtime_error naming every place that was tried.
#pragma once

#include <filesystem>
#include <string>

namespace torchexam::paths {

std::filesystem::path executable_dir();
std::filesystem::path runner();
// torchexam-sandbox (TORCHEXAM_SANDBOX overrides): runs the compiler on candidate source.
std::filesystem::path sandbox();
std::filesystem::path plugin(const std::string& name);  // lib<...>-task-NAME.so
std::filesystem::path cache_dir();
// Installed data sets: $TORCHEXAM_DATA_DIR, else $XDG_DATA_HOME/torchexam/data,
// else ~/.local/share/torchexam/data.
std::filesystem::path data_dir();
std::filesystem::path state_dir();
// The daemon's socket: $TORCHEXAM_SOCKET, else
// $XDG_RUNTIME_DIR/torchexam/daemon.sock, else <state dir>/run/daemon.sock.
std::filesystem::path socket_path();

// The socket's folder rule, one place for the daemon and `torchexam doctor`:
// creates `dir` with mode 0700 (its parents as usual) when it is missing,
// and insists an existing one belongs to this user and is private. A folder
// others can enter is refused, never chmod'ed: throws std::runtime_error
// saying what is wrong and how to fix it.
void ensure_private_dir(const std::filesystem::path& dir);

}  // namespace torchexam::paths
