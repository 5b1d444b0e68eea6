// Tests for harness/base/paths: how a build tree finds its parts and how an
// environment named on the command line is found from any folder. (The
// installed layout is walked end to end by the `walkthrough` test, from a
// `cmake --install` into a temporary prefix.)
#include <doctest/doctest.h>

#include "base/paths.hpp"
#include "idx_writer.hpp"  // temp_dir, ScopedEnv

#include <unistd.h>

#include <fstream>
#include <stdexcept>
#include <string>

namespace fs = std::filesystem;
using namespace torchexam;

namespace {

const fs::path kSource = TORCHEXAM_SOURCE_DIR;

// Runs the current scope in `dir`, then goes back.
class ScopedCwd {
 public:
  explicit ScopedCwd(const fs::path& dir) : old_(fs::current_path()) { fs::current_path(dir); }
  ~ScopedCwd() { fs::current_path(old_); }
  ScopedCwd(const ScopedCwd&) = delete;
  ScopedCwd& operator=(const ScopedCwd&) = delete;

 private:
  fs::path old_;
};

void write_environment(const fs::path& dir) {
  fs::create_directories(dir);
  std::ofstream(dir / "environment.yaml") << "name: x\n";
}

}  // namespace

TEST_SUITE("paths") {
  TEST_CASE("the unit tests run from the build tree, whose parts are beside them") {
    CHECK(paths::in_build_tree());
    CHECK(paths::helper_dir() == paths::executable_dir());
    CHECK(fs::exists(paths::sdk_include_dir() / "torchexam" / "solution.h"));
    CHECK(paths::sdk_include_dir() == kSource / "plugins" / "include");
    test::ScopedEnv sdk("TORCHEXAM_SDK_INCLUDE_DIR", "/opt/sdk/include");
    CHECK(paths::sdk_include_dir() == "/opt/sdk/include");
  }

  TEST_CASE("an environment's name is found from any folder; a folder is taken as given") {
    const fs::path tmp = test::temp_dir("paths-env");
    test::ScopedEnv no_path("TORCHEXAM_ENVIRONMENT_PATH", nullptr);
    ScopedCwd cwd(tmp);
    CHECK(paths::environment_dir("practice") == kSource / "environments" / "practice");
    CHECK(paths::environment_dir("./practice") == "./practice");  // a path: the loader reports what is wrong
    CHECK(paths::environment_dir(tmp.string()) == tmp);

    SUBCASE("a folder here with environment.yaml wins over the name") {
      write_environment(tmp / "practice");
      CHECK(paths::environment_dir("practice") == "practice");
    }
    SUBCASE("a folder here without environment.yaml does not hide the name") {
      fs::create_directories(tmp / "practice");
      CHECK(paths::environment_dir("practice") == kSource / "environments" / "practice");
    }
    SUBCASE("TORCHEXAM_ENVIRONMENT_PATH is searched first") {
      write_environment(tmp / "mine" / "practice");
      const std::string list = (tmp / "nowhere").string() + ":" + (tmp / "mine").string();
      test::ScopedEnv path("TORCHEXAM_ENVIRONMENT_PATH", list.c_str());
      CHECK(paths::environment_dir("practice") == tmp / "mine" / "practice");
    }
    SUBCASE("an unknown name names every place it looked") {
      try {
        paths::environment_dir("no_such_exam");
        FAIL("no exception");
      } catch (const std::runtime_error& e) {
        const std::string what = e.what();
        CHECK(what.find("no exam environment 'no_such_exam'") != std::string::npos);
        CHECK(what.find((kSource / "environments" / "no_such_exam").string()) != std::string::npos);
      }
    }
    fs::remove_all(tmp);
  }
}
