#include <doctest/doctest.h>

#include "sandbox/event_sink.hpp"
#include "sandbox/events.hpp"
#include "sandbox/predictions.hpp"
#include "sandbox/text.hpp"

#include <unistd.h>

#include <cmath>
#include <fstream>
#include <thread>

#include "idx_writer.hpp"

using namespace torchexam;

TEST_SUITE("events") {
  TEST_CASE("text: invalid UTF-8 becomes U+FFFD, valid text is kept") {
    CHECK(to_valid_utf8("plain ascii") == "plain ascii");
    CHECK(to_valid_utf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80") == "caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80");
    CHECK(to_valid_utf8("a\xFF" "b") == "a\xEF\xBF\xBD" "b");                // a byte no sequence starts with
    CHECK(to_valid_utf8("\xC3") == "\xEF\xBF\xBD");                          // truncated at the end
    CHECK(to_valid_utf8("\xC0\xAF") == "\xEF\xBF\xBD\xEF\xBF\xBD");          // overlong '/'
    CHECK(to_valid_utf8("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");  // a surrogate
    CHECK(to_valid_utf8("\xF4\x90\x80\x80").find("\xF4") == std::string::npos);  // past U+10FFFF
  }

  TEST_CASE("text: bounded keeps the head and the tail and says how much is gone") {
    CHECK(bounded("short", 100) == "short");
    const std::string big = "HEAD" + std::string(100000, 'x') + "TAIL";
    const std::string b = bounded(big, 1000);
    CHECK(b.size() < 1100);
    CHECK(b.rfind("HEAD", 0) == 0);
    CHECK(b.substr(b.size() - 4) == "TAIL");
    CHECK(b.find("bytes omitted") != std::string::npos);
    // Never splits a character: the cut of a string of 3-byte characters stays valid.
    std::string euros;
    for (int i = 0; i < 1000; ++i) euros += "\xE2\x82\xAC";
    const std::string c = bounded(euros, 100);
    CHECK(to_valid_utf8(c) == c);
  }

  // A LibTorch error that prints a tensor can be megabytes and hold any byte:
  // the runner's result must stay one parseable line.
  TEST_CASE("a huge exception message with invalid bytes is one bounded, valid line on the pipe") {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    std::string message = "bad \xFF\xFE start " + std::string(3 << 20, 'y') + " end";
    std::string line;
    std::thread reader([&] {
      char buf[65536];
      for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) > 0;) line.append(buf, static_cast<size_t>(n));
    });
    {
      sandbox::EventSink sink(fds[1]);
      sink.result(Verdict::runtime_error, message);
      close(fds[1]);
    }
    reader.join();
    close(fds[0]);
    REQUIRE(!line.empty());
    CHECK(line.back() == '\n');
    CHECK(line.find('\n') == line.size() - 1);
    CHECK(line.size() < 2 * sandbox::EventSink::kMaxMessage);
    std::string err;
    auto e = events::parse_line(std::string_view(line).substr(0, line.size() - 1), &err);
    REQUIRE_MESSAGE(e, err);
    const auto& r = std::get<events::Result>(*e);
    CHECK(r.message.rfind("bad \xEF\xBF\xBD\xEF\xBF\xBD start", 0) == 0);
    CHECK(r.message.find("bytes omitted") != std::string::npos);
    CHECK(r.message.substr(r.message.size() - 4) == " end");
  }

  TEST_CASE("every event kind survives a round trip") {
    events::Progress p;
    p.kind = events::Progress::Kind::epoch;
    p.epoch = 2;
    p.epochs = 5;
    p.batch = 469;
    p.batches = 469;
    p.loss = 0.25;
    p.samples_per_s = 3500;
    p.eta_s = 51.5;
    p.budget_left_s = 400;
    p.metrics["val_accuracy"] = 0.9;
    std::string err;
    auto back = events::parse_line(events::to_json_line(p), &err);
    REQUIRE(back);
    const auto& q = std::get<events::Progress>(*back);
    CHECK(q.kind == events::Progress::Kind::epoch);
    CHECK(q.epoch == 2);
    CHECK(q.batches == 469);
    CHECK(q.eta_s == doctest::Approx(51.5));
    CHECK(q.metrics.at("val_accuracy") == doctest::Approx(0.9));

    auto r = events::parse_line(events::to_json_line(events::Result{Verdict::contract, "bad shape", "exp"}), &err);
    REQUIRE(r);
    CHECK(std::get<events::Result>(*r).verdict == Verdict::contract);
    CHECK(std::get<events::Result>(*r).detail == "exp");

    events::Exit x;
    x.signal = 24;
    x.cpu_s = 1.5;
    auto e = events::parse_line(events::to_json_line(x), &err);
    REQUIRE(e);
    CHECK(std::get<events::Exit>(*e).signal == 24);
    CHECK_FALSE(std::get<events::Exit>(*e).code);
  }

  TEST_CASE("hostile lines are rejected with a reason, never a crash") {
    const char* bad[] = {"", "not json", "[1,2]", "{}", R"({"type":"nope"})", R"({"type":"result","verdict":"great"})",
                         R"({"type":"progress","phase":"batch","epoch":"one"})", R"({"type":"exit"})",
                         R"({"type":"exit","code":1,"signal":9})", R"({"type":"log","message":5})",
                         R"({"type":"progress","phase":"batch","metrics":[1]})"};
    for (const char* line : bad) {
      std::string err;
      CAPTURE(line);
      CHECK_FALSE(events::parse_line(line, &err));
      CHECK_FALSE(err.empty());
    }
  }

  TEST_CASE("the runner's platform report survives a round trip; a malformed one is refused") {
    events::Platform p;
    p.libtorch_version = "1.13.0";
    p.cxx11_abi = true;
    p.parallel = "OpenMP";
    p.blas_path = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3";
    p.blas_version = "0.3.21";
    p.threads = 2;
    p.interop_threads = 1;
    p.deterministic = true;
    std::string err;
    auto back = events::parse_line(events::to_json_line(p), &err);
    REQUIRE_MESSAGE(back, err);
    CHECK(std::get<events::Platform>(*back) == p);
    // An older runner's line without the optional parts reads as unknown.
    auto bare = events::parse_line(R"({"type":"platform"})", &err);
    REQUIRE(bare);
    CHECK(std::get<events::Platform>(*bare) == events::Platform{});
    for (const char* line : {R"({"type":"platform","threads":-1})", R"({"type":"platform","threads":1e9})",
                             R"({"type":"platform","blas":"openblas"})",
                             R"({"type":"platform","deterministic":"yes"})",
                             R"({"type":"platform","libtorch":{"version":7}})"}) {
      CAPTURE(line);
      err.clear();
      CHECK_FALSE(events::parse_line(line, &err));
      CHECK_FALSE(err.empty());
    }
    const std::string huge = R"({"type":"platform","blas":{"path":")" + std::string(5000, 'x') + R"("}})";
    CHECK_FALSE(events::parse_line(huge, &err));
    CHECK(err.find("too long") != std::string::npos);
  }

  TEST_CASE("a NaN loss travels as null and comes back as NaN") {
    events::Progress p;
    p.loss = std::nan("");
    const std::string line = events::to_json_line(p);
    CHECK(line.find("\"loss\":null") != std::string::npos);
    std::string err;
    auto back = events::parse_line(line, &err);
    REQUIRE(back);
    CHECK(std::isnan(std::get<events::Progress>(*back).loss));
  }

  TEST_CASE("out-of-range numbers are rejected, not cast") {
    for (const char* line : {R"({"type":"progress","phase":"batch","epoch":1e300})",
                             R"({"type":"progress","phase":"batch","batches":-1})",
                             R"({"type":"exit","signal":1e19})", R"({"type":"exit","code":null})"}) {
      std::string err;
      CAPTURE(line);
      CHECK_FALSE(events::parse_line(line, &err));
      CHECK(err.find("whole number") != std::string::npos);
    }
  }

  TEST_CASE("verdict names are the design's") {
    for (auto v : {Verdict::ok, Verdict::compile_error, Verdict::runtime_error, Verdict::timeout, Verdict::memory_limit,
                   Verdict::killed, Verdict::forbidden, Verdict::contract, Verdict::internal_error})
      CHECK(parse_verdict(to_string(v)) == v);
    CHECK(to_string(Verdict::compile_error) == "compile_error");
    CHECK_FALSE(parse_verdict("OK"));
  }

  TEST_CASE("predictions file: round trip, and malformed files are refused") {
    auto dir = test::temp_dir("pred");
    std::vector<float> v = {1, 2, 3, 4, 5, 6};
    Array a(Array::from_vector(v, TORCHEXAM_DTYPE_FLOAT32, {3, 2}));
    sandbox::write_predictions(dir / "p.bin", a.get());
    Array b = sandbox::read_predictions(dir / "p.bin");
    CHECK(b.shape() == std::vector<int64_t>{3, 2});
    CHECK(static_cast<const float*>(b.get().data)[5] == 6.f);

    {
      std::ofstream f(dir / "p.bin", std::ios::binary | std::ios::app);
      f << "x";
    }
    CHECK_THROWS_WITH_AS(sandbox::read_predictions(dir / "p.bin"), doctest::Contains("trailing bytes"),
                         std::runtime_error);
    {
      std::ofstream f(dir / "q.bin", std::ios::binary);
      f << "TXPRED01";
      int32_t dtype = 1, ndim = 2;
      int64_t huge = int64_t{1} << 40;
      f.write(reinterpret_cast<char*>(&dtype), 4);
      f.write(reinterpret_cast<char*>(&ndim), 4);
      f.write(reinterpret_cast<char*>(&huge), 8);
      f.write(reinterpret_cast<char*>(&huge), 8);
    }
    CHECK_THROWS_WITH_AS(sandbox::read_predictions(dir / "q.bin"), doctest::Contains("out of range"),
                         std::runtime_error);
    CHECK_THROWS_WITH_AS(sandbox::read_predictions(dir / "none.bin"), doctest::Contains("no predictions file"),
                         std::runtime_error);
    std::filesystem::remove_all(dir);
  }
}
