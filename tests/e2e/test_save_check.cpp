// The warm save-time checker (daemon/clangd_checker.hpp) against the real
// clangd and the real g++ check, on a workspace provisioned as `torchexam
// start` lays one out: the same broken files give the same errors (file,
// line, severity, the key words of the message), a clean file none; a
// session keeps its one clangd; a clangd killed mid-session is replaced and
// the save still gets its diagnostics. Skipped (77) without clangd. The
// first check parses the LibTorch headers (tens of seconds): label e2e.
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "../unit/idx_writer.hpp"
#include "base/hash.hpp"
#include "base/paths.hpp"
#include "base/process.hpp"
#include "config/config.hpp"
#include "daemon/clangd_checker.hpp"
#include "e2e_util.hpp"
#include "exam/provision.hpp"
#include "exam/syntax_checker.hpp"
#include "grading/compiler.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace torchexam;
using namespace torchexam::e2e;

namespace {

// Generous: the first parse of LibTorch on a loaded machine; never a
// measure of speed (bench/feedback_latency is).
constexpr double kCheckTimeout = 600;

struct Workspace {
  fs::path root;
  fs::path file;  // <root>/regression/solution.cpp
  CompilerOptions options;
};

Workspace provision(const std::string& name) {
  const config::Environment env = config::load_environment(kSource / "environments/practice");
  Workspace w;
  w.root = test::temp_dir(name) / "ws";
  fs::remove_all(w.root);
  w.options = compiler_options(env, paths::cache_dir());
  provision_workspace(env, w.root, false, Compiler(w.options).compile_flags(), "test");
  w.file = w.root / "regression" / "solution.cpp";
  return w;
}

// Job folders in a temporary folder of their own, what the checker says into `log`.
daemon::ClangdOptions checker_options(const std::string& name, std::vector<std::string>& log, bool cold_with_gcc) {
  daemon::ClangdOptions o;
  o.work_dir = test::temp_dir(name + "-clangd");
  o.answer_cold_with_gcc = cold_with_gcc;
  o.log = [&log](const std::string& line) { log.push_back(line); };
  return o;
}

void require_clangd() {
  if (system_launcher().find_executable("clangd").empty()) test::skip_test("clangd is not installed");
}

SaveCheck save(const Workspace& w, const std::string& session, const std::string& text) {
  std::ofstream(w.file, std::ios::trunc) << text;
  return {session, "regression", w.file, w.options, kCheckTimeout};
}

std::string describe(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += fmt::format("\n  {}:{}:{}: {}: {}", d.file, d.line, d.column, d.severity, d.message);
  return out;
}

const Diagnostic* first_error(const std::vector<Diagnostic>& ds) {
  for (const auto& d : ds)
    if (d.severity == "error" || d.severity == "fatal error") return &d;
  return nullptr;
}

// The starter with `line` inserted after the line `after` (by default
// inside the model's constructor). Never among the leading #includes: those
// make clangd's preamble, and a change there would rebuild it (LibTorch again).
std::string starter_with(const std::string& line, const std::string& after = "  NetImpl() {\n") {
  const std::string starter = read_file(kSource / "environments/practice/regression/starter.cpp");
  const size_t at = starter.find(after);
  REQUIRE(at != std::string::npos);
  return starter.substr(0, at + after.size()) + line + "\n" + starter.substr(at + after.size());
}

bool contains(std::string text, std::string key) {  // any case: clangd capitalizes its messages
  for (auto* s : {&text, &key})
    for (char& ch : *s) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  return text.find(key) != std::string::npos;
}

int line_of(const std::string& text, const std::string& needle) {
  const size_t at = text.find(needle);
  REQUIRE(at != std::string::npos);
  return 1 + static_cast<int>(std::count(text.begin(), text.begin() + static_cast<long>(at), '\n'));
}

}  // namespace

TEST_SUITE("e2e") {
  TEST_CASE("save_check: clangd's diagnostics equal the compiler check's on broken files, none on a clean one, one clangd a session") {
    require_clangd();
    const Workspace w = provision("save-check-equal");
    std::vector<std::string> log;
    // Every answer clangd's own, however long the first parse takes.
    daemon::ClangdChecker clangd(checker_options("save-check-equal", log, false));
    GccSaveChecker gcc;

    struct Broken {
      const char* what;
      std::string text;
      std::string key;      // in both compilers' messages
      std::string at_line;  // the text on the line both name
    };
    const std::vector<Broken> cases = {
        {"a syntax error", starter_with("    int broken = 1 +;"), "expected", "int broken = 1 +;"},
        {"an unknown name", starter_with("    frobnicate_layers(3);"), "frobnicate_layers", "frobnicate_layers(3);"},
        {"a wrong template argument", starter_with("    std::vector<3> sizes;"), "template", "std::vector<3>"},
        {"a missing include", starter_with("#include <torchexam/no_such_header.hpp>", "TORCH_MODULE(Net);\n"),
         "no_such_header.hpp", "#include <torchexam/no_such_header.hpp>"},
    };
    std::optional<pid_t> first_pid;
    for (const auto& b : cases) {
      CAPTURE(b.what);
      const SaveCheck c = save(w, "s1", b.text);
      const auto theirs = gcc.check(c);
      const auto ours = clangd.check(c);
      INFO("the compiler check:" << describe(theirs));
      INFO("clangd:" << describe(ours));
      INFO("log: " << fmt::format("{}", fmt::join(log, " | ")));
      const Diagnostic* g = first_error(theirs);
      const Diagnostic* d = first_error(ours);
      REQUIRE(g);
      REQUIRE(d);
      CHECK(d->file == g->file);
      CHECK(d->file == w.file.string());
      CHECK(d->line == g->line);
      CHECK(d->line == line_of(b.text, b.at_line));
      CHECK(d->severity == g->severity);
      CHECK(contains(g->message, b.key));
      CHECK(contains(d->message, b.key));
      // A second clangd never starts for the same session.
      CHECK(clangd.counts().started == 1);
      if (!first_pid) first_pid = clangd.pid("s1");
      CHECK(clangd.pid("s1") == first_pid);
    }
    const SaveCheck clean = save(w, "s1", read_file(kSource / "environments/practice/regression/starter.cpp"));
    const auto ours = clangd.check(clean);
    INFO("clangd:" << describe(ours));
    CHECK(first_error(ours) == nullptr);
    CHECK(first_error(gcc.check(clean)) == nullptr);
    // Every check was clangd's own answer, from the one process.
    CHECK(clangd.counts().clangd == static_cast<int>(cases.size()) + 1);
    CHECK(clangd.counts().gcc == 0);
    CHECK(clangd.counts().started == 1);
    CHECK(log.empty());
    clangd.end_session("s1");
    CHECK_FALSE(clangd.pid("s1"));
  }

  TEST_CASE("save_check: a clangd killed mid-session is replaced and the save still gets its diagnostics") {
    require_clangd();
    const Workspace w = provision("save-check-kill");
    std::vector<std::string> log;
    // The daemon's setting: a file's first parse is answered by g++ while
    // clangd builds its preamble behind.
    daemon::ClangdChecker clangd(checker_options("save-check-kill", log, true));
    const std::string broken = starter_with("    frobnicate_layers(3);");
    const auto before = clangd.check(save(w, "s1", broken));
    REQUIRE(first_error(before));
    const auto pid = clangd.pid("s1");
    REQUIRE(pid);
    CHECK(clangd.counts().started == 1);

    REQUIRE(::kill(*pid, SIGKILL) == 0);
    // Gone (a zombie until the checker reaps it) before the next save.
    CHECK(test::wait_for(
        [&] {
          std::ifstream stat(fmt::format("/proc/{}/stat", *pid));
          std::string pid_field, name, state;
          return !(stat >> pid_field >> name >> state) || state == "Z";
        },
        std::chrono::seconds(30)));
    const auto after = clangd.check(save(w, "s1", broken));
    INFO("after:" << describe(after));
    const Diagnostic* d = first_error(after);
    REQUIRE(d);
    CHECK(d->line == line_of(broken, "frobnicate_layers(3);"));
    CHECK(d->message.find("frobnicate_layers") != std::string::npos);
    CHECK(clangd.counts().started == 2);
    CHECK(clangd.pid("s1") != pid);
    REQUIRE_FALSE(log.empty());
    CHECK(log[0].find("a new one starts") != std::string::npos);
  }
}
