// End to end through the real compiler (Compiler and the torchexam CLI): the
// SDK headers compile as a candidate includes them, compile errors name the
// candidate's file and line, bounded and in valid UTF-8, and the compiler's
// sandbox dies with the daemon.
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "../unit/idx_writer.hpp"
#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "base/paths.hpp"
#include "base/process.hpp"
#include "config/config.hpp"
#include "e2e_util.hpp"
#include "grading/compiler.hpp"
#include "sandbox/text.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using namespace torchexam::e2e;

namespace {

// The headers a candidate may include: every file under <torchexam/> but the
// plugin author's, which only the harness and the plugins compile.
std::vector<std::string> candidate_headers() {
  const fs::path root = build_config::kSdkIncludeDir;
  std::vector<std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root / "torchexam")) {
    if (!e.is_regular_file()) continue;
    const std::string name = e.path().lexically_relative(root).generic_string();
    // The plugin authors' headers: never part of a candidate's code.
    if (name != "torchexam/plugin.hpp" && name != "torchexam/plugin_abi.h" && name != "torchexam/scoring.hpp" &&
        name != "torchexam/task_files.hpp")
      out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::string describe(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += fmt::format("\n  {}:{}:{}: {}: {}", d.file, d.line, d.column, d.severity, d.message);
  return out;
}

// The 1-based number of the first line of `file` containing `text`.
int line_of(const fs::path& file, const std::string& text) {
  std::ifstream in(file);
  std::string line;
  for (int n = 1; std::getline(in, line); ++n)
    if (line.find(text) != std::string::npos) return n;
  FAIL("no line of " << file << " contains " << text);
  return 0;
}

}  // namespace

TEST_SUITE("e2e") {
  TEST_CASE("every SDK header a candidate may include compiles alone with the grader's flags") {
    const config::Environment env = config::load_environment(kSource / "environments/practice");
    const auto headers = candidate_headers();
    REQUIRE(std::find(headers.begin(), headers.end(), "torchexam/solution.h") != headers.end());
    REQUIRE(std::find(headers.begin(), headers.end(), "torchexam/data/image.hpp") != headers.end());
    const fs::path dir = test::temp_dir("sdk-headers");
    // One translation unit per header: nothing is included before it but
    // what the grader forces in (the precompiled <torchexam/solution.h>).
    // The compiler's front end with the grader's flags (check_syntax: the
    // same command as build() with -fsyntax-only) decides whether a header
    // compiles alone.
    Compiler compiler(compiler_options(env, paths::cache_dir()));
    const std::string flags = fmt::format("{}", fmt::join(compiler.compile_flags(), " "));
    // An error anywhere (the header's own lines included), or a check that
    // ran out of time, is not clean.
    auto clean = [&](const fs::path& source, std::vector<Diagnostic>& diags) {
      diags = compiler.check_syntax(source, 300);
      return std::none_of(diags.begin(), diags.end(), [](const Diagnostic& d) {
        return d.severity.find("error") != std::string::npos || d.message.rfind("syntax check stopped", 0) == 0;
      });
    };
    std::vector<Diagnostic> diags;
    // The check itself: a line that does not compile is caught.
    std::ofstream(dir / "broken.cpp") << "#include <torchexam/solution.h>\ninline int broken() { return undeclared_name; }\n";
    CHECK_FALSE(clean(dir / "broken.cpp", diags));
    for (size_t i = 0; i < headers.size(); ++i) {
      // <torchexam/solution.h> is the precompiled header itself, built alone.
      if (headers[i] == "torchexam/solution.h") continue;
      const fs::path source = dir / (std::to_string(i) + ".cpp");
      std::ofstream(source) << "#include <" << headers[i] << ">\n";
      CHECK_MESSAGE(clean(source, diags),
                    "#include <" << headers[i] << "> alone does not compile with " << flags << describe(diags));
    }
    fs::remove_all(dir);
  }

  TEST_CASE("a template error inside LibTorch is reported first on the candidate's line") {
    const fs::path source = kSource / "tests/solutions/sequential_push_back.cpp";
    const int line = line_of(source, "layers->push_back(Flatten())");
    auto g = grade(source, {"--limit", "200"});
    CHECK(str(g.result, "verdict") == "compile_error");
    const auto& diags = g.result.at("diagnostics").as_array();
    REQUIRE_FALSE(diags.empty());
    const auto& first = diags.front().as_object();
    INFO("diagnostics: " << json::serialize(diags));
    CHECK(str(first, "severity") == "error");
    CHECK(str(first, "file") == source.string());
    CHECK(first.at("line").as_int64() == line);
    CHECK(first.at("column").as_int64() > 0);
    CHECK(str(first, "message").find("forward") != std::string::npos);  // LibTorch's error, as context
    CHECK(str(g.result, "message").rfind(fmt::format("{}:{}:", source.string(), line), 0) == 0);
  }

  TEST_CASE("an environment pinned to g++ builds with g++: a reference builds, a template error is on the candidate's line") {
    config::Environment env = config::load_environment(kSource / "environments/practice");
    env.pins.compiler_id = "gcc";
    if (std::string(build_config::kGccCxx).empty()) {
      MESSAGE("no g++ was found when TorchExam was configured");
      std::exit(77);  // skipped, never passed
    }
    Compiler compiler(compiler_options(env, paths::cache_dir()));
    CHECK(compiler.family() == "gcc");
    CHECK(compiler.executable() == build_config::kGccCxx);
    CHECK(compiler.identity().find("clang") == std::string::npos);
    const fs::path dir = test::temp_dir("gcc-environment");
    // Unique content: a build, not a cache entry of an earlier run.
    const std::string stamp = fmt::format("// {} {}\n", getpid(), std::chrono::system_clock::now().time_since_epoch().count());
    std::ofstream(dir / "reference.cpp") << stamp << read_file(kSource / "environments/practice/regression/reference.cpp");
    const BuildOutput ok = compiler.build(dir / "reference.cpp", "solution.cpp");
    CHECK_MESSAGE(ok.ok, ok.log);
    CHECK_FALSE(ok.cached);

    const fs::path source = kSource / "tests/solutions/sequential_push_back.cpp";
    std::ofstream(dir / "broken.cpp") << read_file(source) << stamp;
    const BuildOutput bad = compiler.build(dir / "broken.cpp", "solution.cpp");
    CHECK_FALSE(bad.ok);
    INFO(describe(bad.diagnostics));
    REQUIRE_FALSE(bad.diagnostics.empty());
    CHECK(bad.log.find("required from here") != std::string::npos);  // g++'s own wording, not clang's
    CHECK(bad.diagnostics[0].severity == "error");
    CHECK(bad.diagnostics[0].file == "solution.cpp");
    CHECK(bad.diagnostics[0].line == line_of(source, "layers->push_back(Flatten())"));
    fs::remove_all(dir);
  }

  TEST_CASE("a file of random bytes: a short message, the candidate's file name, valid UTF-8") {
    const fs::path dir = test::temp_dir("random-bytes");
    const fs::path source = dir / "solution.cpp";
    {
      std::mt19937 random(17);
      std::string bytes = "int x\xF6\xB5\xA0\xAEy;\n";  // not UTF-8, in an identifier
      for (int i = 0; i < 200000; ++i) bytes += static_cast<char>(random() & 0xFF);
      std::ofstream(source, std::ios::binary) << bytes;
    }
    const test::CliRun run = test::run_cli(kCli, {"grade", (kSource / "environments/practice").string(),
                                                  "fashion_mnist", source.string(), "--json", "--limit", "200"});
    CHECK(is_valid_utf8(run.out));
    const json::object result = json::parse(run.out).as_object();
    CHECK(str(result, "verdict") == "compile_error");
    const std::string message = str(result, "message");
    CHECK(message.size() < 1000);
    CHECK(message.rfind(source.string() + ":1:", 0) == 0);
    CHECK(message.find(" more errors)") != std::string::npos);
    const auto& diags = result.at("diagnostics").as_array();
    CHECK(diags.size() <= kMaxDiagnostics + 1);
    const std::string cache = paths::cache_dir().string();
    for (const auto& d : diags) {
      const std::string file = str(d.as_object(), "file");
      CHECK((file == source.string() || file.empty()));
      CHECK(str(d.as_object(), "message").find(cache) == std::string::npos);
    }
    // Bytes that are not UTF-8 where the compiler quotes them back as they
    // are (both compilers do in a missing header's name; clang escapes them
    // elsewhere): replaced by U+FFFD.
    std::ofstream(source, std::ios::binary) << "#include \"a\xF6\xB5\xA0\xAE.h\"\n";
    const test::CliRun named = test::run_cli(kCli, {"grade", (kSource / "environments/practice").string(),
                                                    "fashion_mnist", source.string(), "--json", "--limit", "200"});
    CHECK(is_valid_utf8(named.out));
    const json::object named_result = json::parse(named.out).as_object();
    CHECK(str(named_result, "verdict") == "compile_error");
    CHECK(json::serialize(named_result.at("diagnostics")).find("a\xEF\xBF\xBD") != std::string::npos);
    fs::remove_all(dir);
  }
}

// A daemon killed with -9 in the middle of a build must take the compiler
// with it. The command under torchexam-sandbox drops to another uid, which
// clears a parent-death signal: the sandbox arms it again.
TEST_SUITE("compiler") {
  TEST_CASE("the compiler's sandbox dies with the process that started it, command and all") {
    const std::string marker = "917.25";  // a sleep no other test runs
    auto sleeping = [&] {
      std::vector<int> found;
      for (const auto& e : fs::directory_iterator("/proc")) {
        const std::string pid = e.path().filename().string();
        if (pid.find_first_not_of("0123456789") != std::string::npos) continue;
        std::ifstream in(e.path() / "cmdline", std::ios::binary);
        std::string cmd((std::istreambuf_iterator<char>(in)), {});
        if (cmd.find(std::string("sleep\0", 6) + marker) != std::string::npos) found.push_back(std::stoi(pid));
      }
      return found;
    };
    const fs::path work = test::temp_dir("sandbox-pdeath");
    // The harness's side: a process that starts torchexam-sandbox as the
    // daemon does (through the process launcher), then is killed with -9.
    const pid_t daemon = fork();
    REQUIRE(daemon >= 0);
    if (daemon == 0) {
      ProcessSpec spec;
      spec.exe = paths::sandbox();
      spec.args = {"--workdir", work.string(), "--", "/bin/sleep", marker};
      spec.stderr_file = work.parent_path() / (work.filename().string() + ".stderr");
      spec.wall_timeout_s = 600;
      system_launcher().run(spec, [](std::string_view) {});
      _exit(0);
    }
    REQUIRE(test::wait_for([&] { return !sleeping().empty(); }, std::chrono::seconds(30)));
    ::kill(daemon, SIGKILL);
    ::waitpid(daemon, nullptr, 0);
    const bool gone = test::wait_for([&] { return sleeping().empty(); }, std::chrono::seconds(10));
    for (int pid : sleeping()) ::kill(pid, SIGKILL);
    CHECK(gone);
    fs::remove_all(work);
  }
}
