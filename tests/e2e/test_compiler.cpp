// End to end through the real compiler (Compiler and the torchexam CLI): the
// SDK headers compile as a candidate includes them, and compile errors name
// the candidate's file and line, bounded and in valid UTF-8.
#include <doctest/doctest.h>

#include "build_config.hpp"
#include "compiler.hpp"
#include "config.hpp"
#include "e2e_util.hpp"
#include "paths.hpp"
#include "../unit/idx_writer.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
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
    if (name != "torchexam/plugin.hpp" && name != "torchexam/plugin_abi.h") out.push_back(name);
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
    // Each compile spends most of its ~10 s loading the precompiled header;
    // two at once were no faster on a busy two-core machine.
    Compiler compiler(compiler_options(env, paths::cache_dir()));
    const std::string flags = fmt::format("{}", fmt::join(compiler.compile_flags(), " "));
    for (size_t i = 0; i < headers.size(); ++i) {
      const fs::path source = dir / (std::to_string(i) + ".cpp");
      std::ofstream(source) << "#include <" << headers[i] << ">\n";
      const BuildOutput build = compiler.build(source, "solution.cpp");
      CHECK_MESSAGE(build.ok, "#include <" << headers[i] << "> alone does not compile with " << flags
                                           << describe(build.diagnostics));
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
}
