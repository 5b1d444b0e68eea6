// paths.hpp — where TorchExam finds its parts and keeps its files.
//
// The parts are found relative to the running executable, in one of two
// layouts, so that neither a build tree nor an installed prefix depends on
// the folder a command runs in, and an installed prefix can be moved:
//
//   part                 build tree (bin/ = <build>/bin)    installed (cmake --install; GNUInstallDirs)
//   torchexam, torchexamd bin/                              <prefix>/bin/
//   runner, sandbox,     bin/                               <prefix>/libexec/torchexam/
//     torch probe
//   task plugins         <build>/lib/torchexam/plugins/     <prefix>/<libdir>/torchexam/plugins/
//   SDK headers          <source>/plugins/include/          <prefix>/include/ (torchexam/solution.h, ...)
//   environments         <source>/environments/             <prefix>/share/torchexam/environments/
//
// The installed folders are fixed at configure time as paths relative to
// bin/ (build_config.hpp), so `cmake --install build --prefix P` works for
// any P as long as the CMAKE_INSTALL_*DIR variables are relative (the
// default). The executable is in the build tree when its folder is
// <build>/bin of the build that compiled it; anywhere else it is installed.
// The precompiled header and the build cache are per user (cache_dir()), not
// installed: the first build a user asks for makes them (`torchexam prepare`).
//
// Environment variables override:
//   TORCHEXAM_RUNNER            the runner executable
//   TORCHEXAM_SANDBOX           the sandbox for the compiler (torchexam-sandbox)
//   TORCHEXAM_TORCH_PROBE       torchexam-torch-probe (doctor/doctor.hpp)
//   TORCHEXAM_PLUGIN_PATH       ':'-separated folders searched for task plugins first
//   TORCHEXAM_SDK_INCLUDE_DIR   the SDK's include root (holds torchexam/solution.h)
//   TORCHEXAM_ENVIRONMENT_PATH  ':'-separated folders searched first for named environments
//   TORCHEXAM_CACHE_DIR         build cache and precompiled headers
//                               (default $XDG_CACHE_HOME/torchexam or ~/.cache/torchexam)
//   TORCHEXAM_STATE_DIR         the daemon's database and artifacts, job folders
//                               (default $XDG_STATE_HOME/torchexam or ~/.local/state/torchexam)
//   TORCHEXAM_SOCKET            the daemon's socket
// Lookups throw std::runtime_error naming every place that was tried.
#pragma once

#include <filesystem>
#include <string>

namespace torchexam::paths {

std::filesystem::path executable_dir();
// True when the running executable is in the bin/ folder of the build tree
// that compiled it (see the table above).
bool in_build_tree();
std::filesystem::path runner();
// torchexam-sandbox (TORCHEXAM_SANDBOX overrides): runs the compiler on candidate source.
std::filesystem::path sandbox();
// The folder of the helper executables (runner, sandbox, torch probe): bin/
// in the build tree, libexec/torchexam/ when installed.
std::filesystem::path helper_dir();
std::filesystem::path plugin(const std::string& name);  // lib<...>-task-NAME.so
// The include root candidate code and plugins compile against (-I): it holds
// torchexam/solution.h. Not checked for existence (the compiler reports it).
std::filesystem::path sdk_include_dir();
// An exam environment named on the command line: a folder (a path with a
// '/', or a folder here that holds environment.yaml) is returned as given;
// a bare name ("practice") is looked up in $TORCHEXAM_ENVIRONMENT_PATH, then
// in the environments folder of this build or installation. Throws when a
// bare name is found nowhere.
std::filesystem::path environment_dir(const std::string& folder_or_name);
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
