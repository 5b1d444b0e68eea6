// The compiler's text diagnostics as the candidate sees them: their file and
// line first (even for an error inside LibTorch's templates), never the build
// cache's path, bounded, valid UTF-8. Inputs are g++ 12 output as the harness
// captures it (-fdiagnostics-plain-output), and clang 14's
// (-fno-caret-diagnostics).
#include <doctest/doctest.h>

#include "grading/compiler.hpp"
#include "sandbox/text.hpp"

#include <algorithm>
#include <string>
#include <vector>

using namespace torchexam;

namespace {

const std::string kSnapshot = "/cache/builds/041a7a15/solution.cpp";
const std::string kAny = "/usr/include/torch/csrc/api/include/torch/nn/modules/container/any.h";
const std::string kSequential = "/usr/include/torch/csrc/api/include/torch/nn/modules/container/sequential.h";

// tests/solutions/sequential_push_back.cpp, built by Compiler::build.
const std::string kTemplateError =
    "In file included from /usr/include/torch/csrc/api/include/torch/nn/modules.h:7,\n"
    "                 from /usr/include/torch/csrc/api/include/torch/torch.h:3,\n"
    "                 from /sdk/include/torchexam/solution.h:39,\n"
    "                 from /cache/pch/36d1d031/torchexam_pch.h:2:\n" +
    kAny +
    ": In instantiation of \xE2\x80\x98torch::nn::AnyModule::AnyModule(std::shared_ptr<_Tp>) [with ModuleType = "
    "FlattenImpl]\xE2\x80\x99:\n" +
    kSequential +
    ":207:32:   required from \xE2\x80\x98void torch::nn::SequentialImpl::push_back(std::string, "
    "std::shared_ptr<_Tp>)\xE2\x80\x99\n" +
    kSequential +
    ":233:14:   required from \xE2\x80\x98void torch::nn::SequentialImpl::push_back(const "
    "torch::nn::ModuleHolder<ModuleType>&) [with M = FlattenImpl]\xE2\x80\x99\n" +
    kSnapshot + ":13:22:   required from here\n" + kAny +
    ":219:11: error: \xE2\x80\x98"
    "forward\xE2\x80\x99 is not a member of \xE2\x80\x98std::remove_reference<FlattenImpl>::type\xE2\x80\x99\n" +
    kAny + ":228:47: error: static assertion failed: Can only store module with a forward() method\n" + kAny +
    ":228:47: note: \xE2\x80\x98torch::detail::has_forward<FlattenImpl>::value\xE2\x80\x99 evaluates to false\n";

// The same solution built by clang++ 14 (-fno-caret-diagnostics): the
// instantiation follows the error as notes, and the second error of the same
// instantiation has none.
const std::string kClangTemplateError =
    "In file included from " + kSnapshot + ":1:\n" +
    "In file included from /cache/pch/36d1d031/torchexam_pch.h:1:\n" +
    "In file included from /sdk/include/torchexam/solution.h:39:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/torch.h:3:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/all.h:15:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/nn.h:7:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/nn/modules.h:7:\n" +
    "/usr/include/torch/csrc/api/include/torch/nn/modules/container/any.h:219:53: error: no member named 'forward' in 'FlattenImpl'\n" +
    "/usr/include/torch/csrc/api/include/torch/nn/modules/container/sequential.h:207:32: note: in instantiation of function template specialization 'torch::nn::AnyModule::AnyModule<FlattenImpl>' requested here\n" +
    "/usr/include/torch/csrc/api/include/torch/nn/modules/container/sequential.h:240:5: note: in instantiation of function template specialization 'torch::nn::SequentialImpl::push_back<FlattenImpl>' requested here\n" +
    "/usr/include/torch/csrc/api/include/torch/nn/modules/container/sequential.h:233:5: note: in instantiation of function template specialization 'torch::nn::SequentialImpl::push_back<FlattenImpl>' requested here\n" +
    kSnapshot + ":13:13: note: in instantiation of function template specialization 'torch::nn::SequentialImpl::push_back<FlattenImpl>' requested here\n" +
    "In file included from " + kSnapshot + ":1:\n" +
    "In file included from /cache/pch/36d1d031/torchexam_pch.h:1:\n" +
    "In file included from /sdk/include/torchexam/solution.h:39:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/torch.h:3:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/all.h:15:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/nn.h:7:\n" +
    "In file included from /usr/include/torch/csrc/api/include/torch/nn/modules.h:7:\n" +
    "/usr/include/torch/csrc/api/include/torch/nn/modules/container/any.h:227:3: error: static_assert failed due to requirement 'torch::detail::has_forward<FlattenImpl>::value' \"Can only store module with a forward() method ...\"\n";

std::string all_text(const std::vector<Diagnostic>& ds) {
  std::string out;
  for (const auto& d : ds) out += d.file + ":" + std::to_string(d.line) + ": " + d.severity + ": " + d.message + "\n";
  return out;
}

}  // namespace

TEST_SUITE("diagnostics") {
  TEST_CASE("an error inside a LibTorch template is shown on the candidate's line, with the library's error") {
    const auto ds = parse_gcc_diagnostics(kTemplateError, kSnapshot, "solution.cpp");
    INFO(all_text(ds));
    REQUIRE(ds.size() >= 2);
    CHECK(ds[0].severity == "error");
    CHECK(ds[0].file == "solution.cpp");
    CHECK(ds[0].line == 13);
    CHECK(ds[0].column == 22);
    CHECK(ds[0].message.find("forward\xE2\x80\x99 is not a member of") != std::string::npos);
    CHECK(ds[0].message.find("(at " + kAny +
                             ":219:11, in instantiation of \xE2\x80\x98torch::nn::AnyModule::AnyModule") !=
          std::string::npos);
    int errors = 0;
    for (const auto& d : ds) {
      if (d.severity == "error") {  // the static assertion too, in the same instantiation
        ++errors;
        CHECK(d.file == "solution.cpp");
        CHECK(d.line == 13);
      }
      CHECK(d.file.find("/cache/") == std::string::npos);
      CHECK(d.message.find("/cache/") == std::string::npos);
    }
    CHECK(errors == 2);
    // The frames and the library's own place follow as notes.
    bool frame = false;
    for (const auto& d : ds) frame |= d.severity == "note" && d.file == kSequential && d.line == 207;
    CHECK(frame);
  }

  TEST_CASE("clang: an error inside a LibTorch template is shown on the candidate's line, and so is the next one of the same instantiation") {
    const auto ds = parse_clang_diagnostics(kClangTemplateError, kSnapshot, "solution.cpp");
    INFO(all_text(ds));
    REQUIRE(ds.size() >= 2);
    CHECK(ds[0].severity == "error");
    CHECK(ds[0].file == "solution.cpp");
    CHECK(ds[0].line == 13);
    CHECK(ds[0].column == 13);
    CHECK(ds[0].message.find("no member named 'forward' in 'FlattenImpl' (at " + kAny +
                             ":219:53, in instantiation of function template specialization "
                             "'torch::nn::SequentialImpl::push_back<FlattenImpl>')") != std::string::npos);
    int errors = 0;
    for (const auto& d : ds) {
      if (d.severity == "error") {  // the static assertion too: clang gives no instantiation for it
        ++errors;
        CHECK(d.file == "solution.cpp");
        CHECK(d.line == 13);
      }
      CHECK(d.file.find("/cache/") == std::string::npos);
      CHECK(d.message.find("/cache/") == std::string::npos);
    }
    CHECK(errors == 2);
    // The library's place and the frames follow as notes.
    bool original = false, frame = false;
    for (const auto& d : ds) {
      original |= d.severity == "note" && d.file == kAny && d.line == 219;
      frame |= d.severity == "note" && d.file == kSequential && d.line == 207;
    }
    CHECK(original);
    CHECK(frame);
  }

  TEST_CASE("clang: an error in a header the candidate includes is shown on their #include; their own errors, the linker and the driver") {
    const std::string log = "In file included from " + kSnapshot +
                            ":2:\n"
                            "/sdk/include/torchexam/data/image.hpp:130:76: error: no member named 'numbers' in "
                            "namespace 'std'\n" +
                            kSnapshot + ":10:58: error: expected ';' at end of declaration\n" + kSnapshot +
                            ":10:50: warning: unused variable 'unused' [-Wunused-variable]\n" +
                            "/usr/bin/ld: /tmp/x.o: in function `f()': " + kSnapshot +
                            ":5: undefined reference to `g()'\n"
                            "clang: error: linker command failed with exit code 1 (use -v to see invocation)\n";
    const auto ds = parse_clang_diagnostics(log, kSnapshot, "solution.cpp");
    INFO(all_text(ds));
    REQUIRE(ds.size() >= 5);
    CHECK(ds[0].file == "solution.cpp");
    CHECK(ds[0].line == 2);
    CHECK(ds[0].message.find("no member named 'numbers' in namespace 'std' (at /sdk/include/torchexam/data/image.hpp:130:76)") !=
          std::string::npos);
    const auto own = std::find_if(ds.begin(), ds.end(), [](const Diagnostic& d) { return d.line == 10 && d.severity == "error"; });
    REQUIRE(own != ds.end());
    CHECK(own->file == "solution.cpp");
    CHECK(own->column == 58);
    CHECK(own->message == "expected ';' at end of declaration");
    const auto warn = std::find_if(ds.begin(), ds.end(), [](const Diagnostic& d) { return d.severity == "warning"; });
    REQUIRE(warn != ds.end());
    CHECK(warn->line == 10);
    bool linker = false, driver = false;
    for (const auto& d : ds) {
      linker |= d.severity == "error" && d.message.find("undefined reference to `g()'") != std::string::npos &&
                d.message.find("/cache/") == std::string::npos;
      driver |= d.severity == "error" && d.message.find("linker command failed") != std::string::npos;
    }
    CHECK(linker);
    CHECK(driver);
  }

  TEST_CASE("an error in a header the candidate includes is shown on their #include") {
    const std::string log = "In file included from " + kSnapshot +
                            ":2:\n"
                            "/sdk/include/torchexam/data/image.hpp:130:76: error: \xE2\x80\x98std::numbers\xE2\x80\x99 "
                            "has not been declared\n";
    const auto ds = parse_gcc_diagnostics(log, kSnapshot, "solution.cpp");
    INFO(all_text(ds));
    REQUIRE_FALSE(ds.empty());
    CHECK(ds[0].file == "solution.cpp");
    CHECK(ds[0].line == 2);
    CHECK(ds[0].message.find("has not been declared (at /sdk/include/torchexam/data/image.hpp:130:76)") !=
          std::string::npos);
  }

  TEST_CASE("the candidate's own errors, context headers, the linker and the driver") {
    const std::string log =
        kSnapshot + ": In function \xE2\x80\x98void train(Net&, torchexam::Context&)\xE2\x80\x99:\n" + kSnapshot +
        ":10:58: error: expected \xE2\x80\x98,\xE2\x80\x99 or \xE2\x80\x98;\xE2\x80\x99 before \xE2\x80\x98"
        "ctx\xE2\x80\x99\n" +
        kSnapshot + ":10:50: warning: unused variable \xE2\x80\x98unused\xE2\x80\x99 [-Wunused-variable]\n" +
        "/usr/bin/ld: /tmp/cc1.o: in function `f()': " + kSnapshot + ":5: undefined reference to `g()'\n" +
        "collect2: error: ld returned 1 exit status\n";
    const auto ds = parse_gcc_diagnostics(log, kSnapshot, "/home/me/ws/solution.cpp");
    INFO(all_text(ds));
    REQUIRE(ds.size() == 4);
    CHECK(ds[0].severity == "error");
    CHECK(ds[0].file == "/home/me/ws/solution.cpp");
    CHECK(ds[0].line == 10);
    CHECK(ds[0].column == 58);
    CHECK(ds[1].severity == "warning");
    CHECK(ds[1].column == 50);
    CHECK(ds[2].severity == "error");
    CHECK(ds[2].message.find("/home/me/ws/solution.cpp:5: undefined reference") != std::string::npos);
    CHECK(ds[3].message == "collect2: error: ld returned 1 exit status");
  }

  TEST_CASE("diagnostics are bounded: a count of the rest, long messages cut") {
    std::string log;
    for (int i = 1; i <= 250; ++i)
      log += kSnapshot + ":" + std::to_string(i) + ":1: error: stray \xE2\x80\x98\\377\xE2\x80\x99 in program\n";
    log += kSnapshot + ":251:1: error: " + std::string(10000, 'x') + "\n";
    auto ds = parse_gcc_diagnostics(log, kSnapshot, "solution.cpp");
    REQUIRE(ds.size() == kMaxDiagnostics + 1);
    CHECK(ds.back().severity == "note");
    CHECK(ds.back().message.find("151 more diagnostics not shown") == 0);

    ds = parse_gcc_diagnostics(kSnapshot + ":1:1: error: " + std::string(10000, 'x') + "\n", kSnapshot, "solution.cpp");
    REQUIRE(ds.size() == 1);
    CHECK(ds[0].message.size() < kMaxDiagnosticMessage + 40);
    CHECK(ds[0].message.find("[8000 more bytes]") != std::string::npos);
  }

  TEST_CASE("bytes that are not UTF-8 become U+FFFD") {
    const auto ds = parse_gcc_diagnostics(
        kSnapshot + ":27:79: error: extended character \xF6\xB5\xA0\xAE is not valid in an identifier\n", kSnapshot,
        "solution.cpp");
    REQUIRE(ds.size() == 1);
    CHECK(is_valid_utf8(ds[0].message));
    CHECK(ds[0].message.find("character \xEF\xBF\xBD") != std::string::npos);
  }

  TEST_CASE("to_valid_utf8 replaces each maximal ill-formed subsequence") {
    const std::string r = "\xEF\xBF\xBD";
    CHECK(to_valid_utf8("plain \xE2\x80\x98quoted\xE2\x80\x99 \xF0\x9F\x98\x80") ==
          "plain \xE2\x80\x98quoted\xE2\x80\x99 \xF0\x9F\x98\x80");
    CHECK(to_valid_utf8("a\xC0\xAF"
                        "b") == "a" + r + r + "b");             // overlong '/'
    CHECK(to_valid_utf8("\xED\xA0\x80") == r + r + r);          // a surrogate
    CHECK(to_valid_utf8("\xF4\x90\x80\x80") == r + r + r + r);  // above U+10FFFF
    CHECK(to_valid_utf8("x\xE2\x82") == "x" + r);               // truncated: one subpart
    CHECK(to_valid_utf8("\xE2\x82x") == r + "x");
    CHECK(to_valid_utf8("\xFF") == r);
    CHECK(is_valid_utf8("\xE2\x82\xAC"));
    CHECK_FALSE(is_valid_utf8("\xE2\x82"));
  }
}
