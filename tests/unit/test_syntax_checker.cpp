// SyntaxChecker with a fake check: which saves it checks, diagnostics kept
// per task, and a check that fails becomes a warning. The clangd checker's
// command and its fallback (with clangd itself: tests/e2e/test_save_check.cpp).
#include <doctest/doctest.h>

#include "base/paths.hpp"
#include "daemon/clangd_checker.hpp"
#include "exam/io_handoff.hpp"
#include "exam/syntax_checker.hpp"
#include "exam_fakes.hpp"
#include "fake_launcher.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>

using namespace torchexam;
namespace fs = std::filesystem;

namespace {

// Stands in for the g++ check: one error, and a count of the calls.
struct CountingChecker final : SaveChecker {
  explicit CountingChecker(int& calls) : calls(calls) {}
  std::vector<Diagnostic> check(const SaveCheck& c) override {
    ++calls;
    return {{"error", c.file.string(), 2, 1, "expected ';'"}};
  }
  int& calls;
};

struct DiagnosticsRecorder final : ExamListener {
  std::vector<std::pair<std::string, std::vector<Diagnostic>>> seen;  // task, diagnostics
  void on_diagnostics(const std::string&, const std::string& task, const fs::path&,
                      const std::vector<Diagnostic>& d) override {
    seen.emplace_back(task, d);
  }
};

}  // namespace

TEST_SUITE("syntax_checker") {
  TEST_CASE("a save of a task's solution.cpp is checked; other files and folders are not") {
    const auto env = test::fake_environment();
    const fs::path ws = "/ws";
    CHECK(SyntaxChecker::tasks_touched(ws, *env, {"/ws/t/solution.cpp", "/ws/t/notes.txt"}) ==
          std::set<std::string>{"t"});
    CHECK(SyntaxChecker::tasks_touched(ws, *env, {"/ws/other/solution.cpp", "/elsewhere/t/solution.cpp"}).empty());
  }

  TEST_CASE("diagnostics of the last check per task; a check that throws reports a warning") {
    boost::asio::io_context io;
    auto guard = boost::asio::make_work_guard(io);
    IoHandoff handoff(io);
    DiagnosticsRecorder out;
    std::atomic<int> calls{0};
    SyntaxChecker checker(handoff, out, 7, [&](const CompilerOptions& o, const fs::path& file, double timeout) {
      ++calls;
      CHECK(timeout == 7);
      CHECK(o.timeout_s == 7);
      if (file.filename() == "broken.cpp") throw std::runtime_error("no compiler");
      return std::vector<Diagnostic>{{"error", file.string(), 3, 1, "expected ';'"}};
    });
    auto run_until_idle = [&] {
      const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (checker.busy() && std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(5));
      return !checker.busy();
    };
    CHECK(checker.diagnostics("s1", "t").empty());
    const uint64_t before = checker.generation();
    checker.check("s1", "t", "/ws/t/solution.cpp", {});
    CHECK(checker.busy());
    REQUIRE(run_until_idle());
    REQUIRE(checker.diagnostics("s1", "t").size() == 1);
    CHECK(checker.diagnostics("s1", "t")[0].line == 3);
    CHECK(checker.diagnostics("s2", "t").empty());
    CHECK(checker.generation() != before);

    checker.check("s1", "t", "/ws/t/broken.cpp", {});
    REQUIRE(run_until_idle());
    REQUIRE(checker.diagnostics("s1", "t").size() == 1);
    CHECK(checker.diagnostics("s1", "t")[0].severity == "warning");
    CHECK(checker.diagnostics("s1", "t")[0].message == "syntax check failed: no compiler");
    CHECK(out.seen.size() == 2);
    CHECK(calls == 2);
    checker.join();
    handoff.close();
  }
}

// The warm checker's parts that need no clangd: the command it parses with,
// and the fallback to the g++ check when clangd is missing or cannot start.
TEST_SUITE("syntax_checker") {
  TEST_CASE("clang_command: g++-only flags go, the precompiled header becomes its header") {
    const fs::path dir = test::temp_dir("clang-command");
    const fs::path pch = dir / "torchexam_pch.h";
    std::ofstream(pch) << "#include <torchexam/solution.h>\n";
    std::ofstream(pch.string() + ".gch") << "not a clang PCH";
    const std::string solution_h = (paths::sdk_include_dir() / "torchexam" / "solution.h").string();
    const std::vector<std::string> gcc{"/usr/bin/c++", "-std=c++17", "-O2", "-fdiagnostics-plain-output",
                                       "-fmax-errors=50", "-include", pch.string(), "-fsyntax-only", "solution.cpp"};
    const std::vector<std::string> expected{"/usr/bin/c++", "-Wno-unknown-warning-option", "-std=c++17", "-O2",
                                            "-include", solution_h, "-fsyntax-only", "solution.cpp"};
    CHECK(daemon::clang_command(gcc) == expected);
    // A compile_commands.json entry has no -include: the forced header is added.
    const auto from_database = daemon::clang_command({"/usr/bin/c++", "-std=c++17", "-c", "solution.cpp"});
    const std::vector<std::string> with_forced{"/usr/bin/c++", "-include", solution_h, "-Wno-unknown-warning-option",
                                               "-std=c++17", "-c", "solution.cpp"};
    CHECK(from_database == with_forced);
    // A header without a .gch beside it stays as it is.
    const auto plain = daemon::clang_command({"c++", "-include", "mine.h", "x.cpp"});
    CHECK(std::count(plain.begin(), plain.end(), "mine.h") == 1);
  }

  TEST_CASE("the clangd checker falls back to g++ when clangd is missing or cannot start, and says why once") {
    test::FakeLauncher launcher;
    std::vector<std::string> log;
    int gcc_checks = 0;
    auto gcc = std::make_shared<CountingChecker>(gcc_checks);
    SaveCheck check{"s1", "t", "/ws/t/solution.cpp", {}, 30};
    SUBCASE("missing") {
      launcher.missing_programs = {"clangd"};
      daemon::ClangdChecker checker({.work_dir = test::temp_dir("clangd-missing"), .launcher = &launcher,
                                     .fallback = gcc, .log = [&](const std::string& line) { log.push_back(line); }});
      CHECK(checker.check(check).at(0).message == "expected ';'");
      CHECK(checker.check(check).size() == 1);
      CHECK(gcc_checks == 2);
      CHECK(checker.counts().gcc == 2);
      CHECK(checker.counts().started == 0);
      REQUIRE(log.size() == 1);
      CHECK(log[0].find("clangd is not installed") != std::string::npos);
    }
    SUBCASE("cannot start") {
      // The fake launcher finds /fake/bin/clangd but cannot converse with a child.
      daemon::ClangdChecker checker({.work_dir = test::temp_dir("clangd-nostart"), .launcher = &launcher,
                                     .fallback = gcc, .log = [&](const std::string& line) { log.push_back(line); }});
      CHECK(checker.check(check).size() == 1);
      CHECK(checker.check(check).size() == 1);
      CHECK(gcc_checks == 2);
      CHECK(checker.counts().started == 0);
      CHECK_FALSE(checker.pid("s1"));
      REQUIRE(log.size() == 1);
      CHECK(log[0].find("clangd did not start") != std::string::npos);
      CHECK(log[0].find("session s1") != std::string::npos);
    }
  }
}
