// Provisioning (exam/provision.hpp) of the tiny test environment: the
// files each task gets, the compile flags clangd sees, what is never
// copied, and a workspace that is not empty. The compile flags come from a
// Compiler on a fake launcher: no compiler runs.
#include "exam/provision.hpp"

#include "base/build_config.hpp"
#include "fake_launcher.hpp"
#include "grading/compiler.hpp"
#include "idx_writer.hpp"  // temp_dir

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <fstream>

using namespace torchexam;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

std::string slurp(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

struct Fixture {
  fs::path dir = test::temp_dir("provision");
  fs::path workspace = dir / "workspace";
  config::Environment env = config::load_environment(fs::path(TORCHEXAM_SOURCE_DIR) / "tests/environments/tiny");
  std::vector<std::string> flags;

  Fixture() {
    test::FakeLauncher launcher;
    test::add_working_compiler(launcher);
    CompilerOptions o = compiler_options(env, dir / "cache");
    o.launcher = &launcher;
    flags = Compiler(o).compile_flags();
  }
  ProvisionResult provision(bool overwrite = false) {
    return provision_workspace(env, workspace, overwrite, flags, "20250101-120000");
  }
};

}  // namespace

TEST_SUITE("provision") {
  TEST_CASE("each task gets its statement, its starter, a CMakeLists.txt and a compile_commands.json") {
    Fixture f;
    const ProvisionResult r = f.provision();
    const fs::path task = f.workspace / "fashion_mnist";
    const fs::path source = fs::path(TORCHEXAM_SOURCE_DIR) / "tests/environments/tiny/fashion_mnist";
    CHECK(r.written.size() == 4);
    CHECK_FALSE(r.previous);
    CHECK(slurp(task / "README.md") == slurp(source / "README.md"));
    CHECK(slurp(task / "solution.cpp") == slurp(source / "starter.cpp"));
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(task)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    CHECK(names == std::vector<std::string>{"CMakeLists.txt", "README.md", "compile_commands.json", "solution.cpp"});

    const std::string cmake = slurp(task / "CMakeLists.txt");
    CHECK(cmake.find("project(fashion_mnist_solution") != std::string::npos);
    CHECK(cmake.find("set(CMAKE_CXX_STANDARD " + f.env.compiler_std.substr(f.env.compiler_std.find("++") + 2) + ")") !=
          std::string::npos);
    CHECK(cmake.find("add_library(solution MODULE solution.cpp)") != std::string::npos);

    // clangd sees the harness's own flags, less those only the harness needs.
    const json::value db = json::parse(slurp(task / "compile_commands.json"));
    const auto& entry = db.as_array().at(0).as_object();
    CHECK(entry.at("directory").as_string() == task.string());
    CHECK(entry.at("file").as_string() == (task / "solution.cpp").string());
    std::vector<std::string> args;
    for (const auto& a : entry.at("arguments").as_array()) args.emplace_back(a.as_string());
    CHECK(args.front() == candidate_compiler(f.env.pins.compiler_id).exe);
    CHECK(args[1] == "-std=" + f.env.compiler_std);
    for (const auto& flag : f.flags) {
      const bool harness_only = is_harness_only_flag(flag);
      CHECK_MESSAGE((std::find(args.begin(), args.end(), flag) != args.end()) != harness_only, flag);
    }
  }

  TEST_CASE("a workspace that is not empty is refused, or moved aside with overwrite") {
    Fixture f;
    fs::create_directories(f.workspace);
    std::ofstream(f.workspace / "notes.txt") << "mine";
    CHECK_THROWS_AS(f.provision(), ProvisionError);
    CHECK_FALSE(fs::exists(f.workspace / "fashion_mnist"));

    const ProvisionResult r = f.provision(/*overwrite=*/true);
    REQUIRE(r.previous);
    CHECK(*r.previous == f.workspace / ".torchexam-previous-20250101-120000");
    CHECK(slurp(*r.previous / "notes.txt") == "mine");
    CHECK_FALSE(fs::exists(f.workspace / "notes.txt"));
    CHECK(fs::exists(f.workspace / "fashion_mnist" / "solution.cpp"));
  }

  TEST_CASE("a workspace that is a file is refused") {
    Fixture f;
    std::ofstream(f.workspace) << "a file";
    CHECK_THROWS_WITH_AS(f.provision(), doctest::Contains("is not a folder"), ProvisionError);
  }
}
