// SyntaxChecker with a fake check: which saves it checks, diagnostics kept
// per task, and a check that fails becomes a warning.
#include <doctest/doctest.h>

#include "exam/io_handoff.hpp"
#include "exam/syntax_checker.hpp"
#include "exam_fakes.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <chrono>

using namespace torchexam;
namespace fs = std::filesystem;

namespace {

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
