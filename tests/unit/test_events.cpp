#include <doctest/doctest.h>

#include "events.hpp"
#include "predictions.hpp"

#include <cmath>
#include <fstream>

#include "idx_writer.hpp"

using namespace torchexam;

TEST_SUITE("events") {
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
