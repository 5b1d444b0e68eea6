#include "exam/provision.hpp"

#include "base/build_config.hpp"
#include "base/paths.hpp"
#include "grading/compiler.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <fstream>

namespace torchexam {
namespace fs = std::filesystem;

namespace {

void write(const fs::path& path, const std::string& text, ProvisionResult& out) {
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f << text;
  if (!f.flush()) throw ProvisionError("cannot write " + path.string());
  out.written.push_back(path);
}

void copy(const fs::path& from, const fs::path& to, ProvisionResult& out) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) throw ProvisionError("cannot copy " + from.string() + " to " + to.string() + ": " + ec.message());
  out.written.push_back(to);
}

}  // namespace

// "c++17" -> CMAKE_CXX_STANDARD 17 with CMAKE_CXX_EXTENSIONS OFF (CMake's
// default ON would compile with -std=gnu++17); "gnu++20" -> 20, ON.
std::string workspace_cmake_lists(const std::string& task, const std::string& standard) {
  const bool gnu = standard.rfind("gnu++", 0) == 0;
  const std::string version = standard.substr(standard.find("++") + 2);
  return fmt::format(R"(# Builds your solution locally, to check that it compiles as the harness will
# compile it (-std={2}). Grading happens with `torchexam submit {0}`.
cmake_minimum_required(VERSION 3.25)
project({0}_solution LANGUAGES CXX)
set(CMAKE_CXX_STANDARD {3})
set(CMAKE_CXX_STANDARD_REQUIRED ON)
set(CMAKE_CXX_EXTENSIONS {4})
set(CMAKE_EXPORT_COMPILE_COMMANDS ON)
find_package(Torch REQUIRED)
add_library(solution MODULE solution.cpp)
target_include_directories(solution PRIVATE "{1}")
target_link_libraries(solution PRIVATE ${{TORCH_LIBRARIES}})
)",
                     task, paths::sdk_include_dir().string(), standard, version, gnu ? "ON" : "OFF");
}

std::string workspace_compile_commands(const fs::path& dir, const std::string& compiler,
                                       const std::vector<std::string>& flags) {
  boost::json::array args{boost::json::value(compiler)};
  for (const auto& f : flags)
    if (!is_harness_only_flag(f)) args.push_back(boost::json::value(f));
  for (const char* a : {"-c", "solution.cpp", "-o", "solution.o"}) args.push_back(boost::json::value(a));
  boost::json::array db{boost::json::object{
      {"directory", dir.string()}, {"file", (dir / "solution.cpp").string()}, {"arguments", std::move(args)}}};
  return boost::json::serialize(db) + "\n";
}

ProvisionResult provision_workspace(const config::Environment& env, const fs::path& workspace_in, bool overwrite,
                                    const std::vector<std::string>& compile_flags, const std::string& stamp) {
  ProvisionResult out;
  const fs::path workspace = fs::absolute(workspace_in).lexically_normal();
  std::error_code ec;
  if (fs::exists(workspace, ec) && !fs::is_directory(workspace, ec))
    throw ProvisionError(workspace.string() + " exists and is not a folder");
  if (fs::exists(workspace, ec) && !fs::is_empty(workspace, ec)) {
    if (!overwrite)
      throw ProvisionError("the workspace " + workspace.string() +
                           " is not empty; choose an empty folder, or start with --overwrite (its files are then "
                           "moved into a .torchexam-previous-* folder inside it, not lost)");
    const fs::path previous = workspace / (".torchexam-previous-" + stamp);
    fs::create_directories(previous);
    for (const auto& entry : fs::directory_iterator(workspace)) {
      const auto name = entry.path().filename().string();
      if (name.rfind(".torchexam-previous-", 0) == 0) continue;
      fs::rename(entry.path(), previous / entry.path().filename(), ec);
      if (ec) throw ProvisionError("cannot move " + entry.path().string() + " aside: " + ec.message());
    }
    out.previous = previous;
  }
  fs::create_directories(workspace, ec);
  if (ec) throw ProvisionError("cannot create the workspace " + workspace.string() + ": " + ec.message());
  for (const auto& task : env.tasks) {
    const fs::path dir = workspace / task.id;
    fs::create_directories(dir, ec);
    if (ec) throw ProvisionError("cannot create " + dir.string() + ": " + ec.message());
    copy(task.statement, dir / "README.md", out);
    copy(task.starter, dir / "solution.cpp", out);
    write(dir / "CMakeLists.txt", workspace_cmake_lists(task.id, env.compiler_std), out);
    write(dir / "compile_commands.json", workspace_compile_commands(dir, candidate_compiler(env.pins.compiler_id).exe, compile_flags), out);
  }
  return out;
}

}  // namespace torchexam
