// The compiler (grading/compiler.hpp) against a fake launcher: the command
// line it builds from the environment, the precompiled header, the cache by
// content, a timeout, diagnostics from the compiler's output. No compiler
// runs.
#include "grading/compiler.hpp"

#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "fake_launcher.hpp"
#include "idx_writer.hpp"  // temp_dir

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <fstream>

using namespace torchexam;
using test::FakeLauncher;
namespace fs = std::filesystem;

namespace {

bool contains(const std::vector<std::string>& args, const std::string& a) {
  return std::find(args.begin(), args.end(), a) != args.end();
}

struct Fixture {
  fs::path dir = test::temp_dir("compiler");
  test::FakeHelpers helpers{dir / "bin"};
  FakeLauncher launcher;
  config::Environment env;

  Fixture() {
    test::add_working_compiler(launcher);
    env.compiler_std = "c++17";
    env.compiler_flags = {"-O2", "-DEXAM_FLAG=1"};
    env.compile_timeout_s = 42;
  }
  CompilerOptions options() {
    CompilerOptions o = compiler_options(env, dir / "cache");
    o.launcher = &launcher;
    return o;
  }
  fs::path source(const std::string& name, const std::string& text) {
    const fs::path p = dir / name;
    std::ofstream(p) << text;
    return p;
  }
  size_t builds() const { return launcher.commands(test::is_solution_build).size(); }
};

}  // namespace

TEST_SUITE("compiler") {
  TEST_CASE("the build runs the environment's compiler flags in the sandbox, with the PCH and the time limit") {
    Fixture f;
    Compiler compiler(f.options());
    const BuildOutput out = compiler.build(f.source("solution.cpp", "int x;\n"), "task/solution.cpp");
    CHECK(out.ok);
    CHECK_FALSE(out.cached);
    REQUIRE(fs::exists(out.library));
    const auto builds = f.launcher.commands(test::is_solution_build);
    REQUIRE(builds.size() == 1);
    const ProcessSpec& b = builds[0];
    CHECK(b.exe.filename() == "torchexam-sandbox");
    CHECK(b.wall_timeout_s == 42);
    CHECK(b.cpu_limit_s == 42);
    // The sandbox's own options, then the compiler and its flags.
    const auto dashes = std::find(b.args.begin(), b.args.end(), "--");
    REQUIRE(dashes != b.args.end());
    REQUIRE(dashes + 1 != b.args.end());
    CHECK(*(dashes + 1) == build_config::kCxx);
    const std::vector<std::string> compiler_args(dashes + 2, b.args.end());
    CHECK(compiler_args.front() == "-std=c++17");
    for (const char* flag : {"-O2", "-DEXAM_FLAG=1", "-fPIC", "-shared", "-Wl,--no-undefined"})
      CHECK_MESSAGE(contains(compiler_args, flag), flag);
    for (const char* flag : kHarnessOnlyFlags) CHECK_MESSAGE(contains(compiler_args, flag), flag);
    CHECK_FALSE(contains(compiler_args, "-O1"));  // the environment's flags replace the default
    // The precompiled header, built once in the sandbox, is forced in and its folder exposed.
    const auto pchs = f.launcher.commands(test::is_pch_build);
    REQUIRE(pchs.size() == 1);
    const std::string header = test::arg_after(compiler_args, "-include");
    CHECK(fs::path(header).filename() == "torchexam_pch.h");
    CHECK(fs::exists(fs::path(header).string() + ".gch"));
    CHECK(test::arg_after(pchs[0].args, "-x") == "c++-header");
    CHECK(contains(pchs[0].args, header));
    CHECK(contains(b.args, fs::path(header).parent_path().string()));
    CHECK(test::arg_after(b.args, "--workdir") == fs::path(out.library).parent_path().string());
  }

  TEST_CASE("the PCH is built once per flag set and found by the next compiler") {
    Fixture f;
    Compiler(f.options()).build(f.source("a.cpp", "int a;\n"));
    Compiler(f.options()).build(f.source("b.cpp", "int b;\n"));
    CHECK(f.launcher.commands(test::is_pch_build).size() == 1);
    CHECK(f.builds() == 2);
    f.env.compiler_flags = {"-O3"};  // another flag set: another header
    Compiler(f.options()).build(f.source("c.cpp", "int c;\n"));
    CHECK(f.launcher.commands(test::is_pch_build).size() == 2);
  }

  TEST_CASE("a build is cached by the source's content, whatever its file is called") {
    Fixture f;
    Compiler compiler(f.options());
    const BuildOutput first = compiler.build(f.source("one.cpp", "int same;\n"));
    const BuildOutput again = compiler.build(f.source("two.cpp", "int same;\n"));
    CHECK(f.builds() == 1);
    CHECK(again.cached);
    CHECK(again.ok);
    CHECK(again.key == first.key);
    CHECK(again.library == first.library);
    const BuildOutput other = compiler.build(f.source("three.cpp", "int different;\n"));
    CHECK(f.builds() == 2);
    CHECK_FALSE(other.cached);
    CHECK(other.key != first.key);
  }

  TEST_CASE("a failed build is cached with its diagnostics, named as the candidate knows the file") {
    Fixture f;
    f.launcher.on(test::is_solution_build,
                  {{}, "", FakeLauncher::exited(1), [](const ProcessSpec& spec, FakeLauncher::Reply& r) {
                     // GCC names the cache's snapshot, which the compiler compiled.
                     const std::string snapshot = test::arg_after(spec.args, "-shared");
                     r.stderr_text = snapshot + ": In function 'int main()':\n" + snapshot +
                                     ":3:5: error: 'y' was not declared in this scope\n" + snapshot +
                                     ":4:1: warning: unused variable 'z' [-Wunused-variable]\n";
                   }});
    Compiler compiler(f.options());
    const fs::path src = f.source("solution.cpp", "int main() {\n\n  y = 1;\n}\n");
    const BuildOutput out = compiler.build(src, "fashion_mnist/solution.cpp");
    CHECK_FALSE(out.ok);
    REQUIRE(out.diagnostics.size() == 2);
    CHECK(out.diagnostics[0].severity == "error");
    CHECK(out.diagnostics[0].file == "fashion_mnist/solution.cpp");
    CHECK(out.diagnostics[0].line == 3);
    CHECK(out.diagnostics[0].column == 5);
    CHECK(out.diagnostics[0].message == "'y' was not declared in this scope");
    CHECK(out.diagnostics[1].severity == "warning");
    CHECK(out.log.find("was not declared") != std::string::npos);
    const BuildOutput again = compiler.build(src, "fashion_mnist/solution.cpp");
    CHECK(again.cached);
    CHECK(f.builds() == 1);
    CHECK(again.diagnostics.size() == 2);
  }

  TEST_CASE("a build that times out says so and is not cached") {
    Fixture f;
    f.launcher.on(test::is_solution_build, {{}, "partial output\n", FakeLauncher::timed_out(), {}});
    Compiler compiler(f.options());
    const fs::path src = f.source("bomb.cpp", "template <int N> struct T;\n");
    const BuildOutput out = compiler.build(src, "bomb.cpp");
    CHECK_FALSE(out.ok);
    CHECK(out.timed_out);
    REQUIRE_FALSE(out.diagnostics.empty());
    CHECK(out.diagnostics.back().message == "compilation did not finish within 42 s");
    CHECK(out.diagnostics.back().file == "bomb.cpp");
    const BuildOutput again = compiler.build(src, "bomb.cpp");  // tried again, not taken from the cache
    CHECK_FALSE(again.cached);
    CHECK(f.builds() == 2);
  }

  TEST_CASE("a cancelled build leaves nothing in the cache") {
    Fixture f;
    ProcessResult cancelled = FakeLauncher::killed_by(9);
    cancelled.cancelled = true;
    f.launcher.on(test::is_solution_build, {{}, "", cancelled, {}});
    Compiler compiler(f.options());
    const fs::path src = f.source("s.cpp", "int s;\n");
    CHECK(compiler.build(src).cancelled);
    CHECK_FALSE(compiler.build(src).cached);
  }

  TEST_CASE("a build waiting for another maker of its cache entry or header stops when cancelled") {
    Fixture f;
    std::atomic<bool> cancel{false};
    CompilerOptions o = f.options();
    o.cancel = &cancel;
    const fs::path src = f.source("s.cpp", "int s;\n");
    Compiler compiler(o);
    const BuildOutput first = compiler.build(src);  // names the entry's and the header's locks
    REQUIRE(first.ok);
    const fs::path entry = first.library.parent_path();
    std::vector<fs::path> pch_locks;
    for (const auto& e : fs::directory_iterator(f.dir / "cache" / "pch"))
      if (e.path().extension() == ".lock") pch_locks.push_back(e.path());
    REQUIRE(pch_locks.size() == 1);
    const size_t pch_builds = f.launcher.commands(test::is_pch_build).size();

    // Another process makes the same entry (it holds the lock, nothing is
    // there yet) while this build is cancelled: it returns without waiting.
    fs::remove_all(entry);
    {
      const FileLock other_maker(entry.parent_path() / (entry.filename().string() + ".lock"));
      cancel = true;
      const BuildOutput out = compiler.build(src);
      CHECK(out.cancelled);
      CHECK_FALSE(out.ok);
      CHECK_FALSE(fs::exists(entry / "compiler.log"));
    }

    // The same while another process makes the precompiled header.
    fs::remove_all(pch_locks[0].parent_path() / pch_locks[0].stem());
    const FileLock other_maker(pch_locks[0]);
    CHECK(compiler.build(src).cancelled);
    CHECK(compiler.check_syntax(src, 10).empty());
    CHECK_THROWS_WITH_AS(compiler.ensure_pch(), doctest::Contains("cancelled"), std::runtime_error);
    CHECK(f.launcher.commands(test::is_pch_build).size() == pch_builds);
  }

  TEST_CASE("the compiler's identity is part of the key") {
    Fixture f;
    const fs::path src = f.source("s.cpp", "int s;\n");
    const std::string key = Compiler(f.options()).build(src).key;
    f.launcher.on(test::is_compiler_identity, {{"c++ (Fake 2.0) 2.0.0"}, "", FakeLauncher::exited(0), {}});
    CHECK(Compiler(f.options()).build(src).key != key);
    f.launcher.on(test::is_compiler_identity, {{}, "", FakeLauncher::exited(127), {}});
    CHECK_THROWS_WITH(Compiler(f.options()), doctest::Contains("did not run"));
  }

  TEST_CASE("a PCH that fails to build throws with the compiler's output") {
    Fixture f;
    f.launcher.on(test::is_pch_build, {{}, "fatal error: torch/torch.h: No such file\n", FakeLauncher::exited(1), {}});
    Compiler compiler(f.options());
    CHECK_THROWS_WITH(compiler.ensure_pch(), doctest::Contains("torch/torch.h: No such file"));
  }

  TEST_CASE("the syntax check reports diagnostics on the file as given, and a timeout as a warning") {
    Fixture f;
    const fs::path src = f.source("solution.cpp", "int main() { return x; }\n");
    const std::string file = fs::absolute(src).string();
    f.launcher.on(test::is_syntax_check,
                  {{}, file + ":1:21: error: 'x' was not declared in this scope\n", FakeLauncher::exited(1), {}});
    Compiler compiler(f.options());
    auto ds = compiler.check_syntax(src, 5);
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].file == file);
    CHECK(ds[0].line == 1);
    const auto checks = f.launcher.commands(test::is_syntax_check);
    REQUIRE(checks.size() == 1);
    CHECK(checks[0].wall_timeout_s == 5);
    CHECK(f.builds() == 0);  // no code generated, nothing cached
    f.launcher.on(test::is_syntax_check, {{}, "", FakeLauncher::timed_out(), {}});
    ds = compiler.check_syntax(src, 5);
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].severity == "warning");
    CHECK(ds[0].message == "syntax check stopped after 5 s");
  }
}
