// provision.hpp — lays out a candidate's workspace for an exam environment.
//
// For each task: <workspace>/<task>/README.md (the statement), solution.cpp
// (the starter), CMakeLists.txt (builds the solution locally against
// LibTorch and the SDK, to compile-check it) and compile_commands.json (the
// harness's own compile flags, so clangd completes LibTorch names and
// <torchexam/solution.h>). Reference solutions are never copied.
//
// A workspace that exists and is not empty is refused unless `overwrite`;
// then its current contents are first moved into
// <workspace>/.torchexam-previous-<time>/, so nothing is lost.
// Throws ProvisionError with the path and the reason.
#pragma once

#include "config/config.hpp"

#include <filesystem>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace torchexam {

class ProvisionError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct ProvisionResult {
  std::vector<std::filesystem::path> written;
  std::optional<std::filesystem::path> previous;  // where the old contents went
};

// `compile_flags` are the flags the harness compiles candidate code with
// (Compiler::compile_flags()); `stamp` names the backup folder.
ProvisionResult provision_workspace(const config::Environment& env, const std::filesystem::path& workspace,
                                    bool overwrite, const std::vector<std::string>& compile_flags,
                                    const std::string& stamp);

// A task folder's CMakeLists.txt: builds solution.cpp against this
// machine's LibTorch and SDK with -std=`standard`. Also what `torchexam
// join` writes on a candidate's machine.
std::string workspace_cmake_lists(const std::string& task, const std::string& standard);
// A task folder's compile_commands.json: `compiler` and `flags` (the
// harness-only ones left out) on `dir`/solution.cpp.
std::string workspace_compile_commands(const std::filesystem::path& dir, const std::string& compiler,
                                       const std::vector<std::string>& flags);

}  // namespace torchexam
