// A grading's JSON (grading/grade_json.hpp): what `torchexam grade --json`
// prints, the store keeps and the protocol sends (docs/protocol.md §4). A
// full GradeResult survives the round trip; the fields keep their names,
// order and values on the wire, whatever the struct groups them in.
#include "grading/grade_json.hpp"

#include "base/json_shape.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace torchexam;
namespace json = boost::json;

namespace {

// Every field set to something other than its default.
GradeResult full_result() {
  GradeResult g;
  g.verdict = Verdict::timeout;
  g.backend = "slurm";
  g.score = 3;
  g.metric_name = "accuracy";
  g.metric = 0.8558;
  g.message = "training did not finish within its budget";
  g.detail = "at epoch 4";
  g.diagnostics = {{"warning", "/ws/t/solution.cpp", 8, 5, "unused variable 'x'"}};
  g.build_cached = true;
  g.stage_cached = true;
  g.timings = {0.002, 6.4, 2.7, 1.2, 0.03, 10.4};
  g.job_dir = "/state/jobs/1-1";
  g.log = {"staged 60000 samples", "epoch 1"};
  g.output = {{"train", "/state/jobs/1-1/train/output.log", 120}};
  g.used = {5.31, 689412, uint64_t{1} << 30};
  g.sandbox = {{"namespaces", "seccomp"}, {"no cgroup"}, {600, 1200, uint64_t{2} << 30, 64}};
  return g;
}

// The result as the JSON had it before GradeResult grouped its resource use
// and sandbox report: every key, in this order, with these values.
constexpr const char* kWire = R"({
  "verdict": "timeout", "score": 3, "metric_name": "accuracy", "metric": 0.8558,
  "message": "training did not finish within its budget", "detail": "at epoch 4",
  "diagnostics": [{"severity": "warning", "file": "/ws/t/solution.cpp", "line": 8, "column": 5,
                   "message": "unused variable 'x'"}],
  "build_cached": true, "stage_cached": true, "job_dir": "/state/jobs/1-1", "backend": "slurm",
  "train_cpu_s": 5.31, "train_max_rss_kb": 689412,
  "timings": {"stage_s": 0.002, "build_s": 6.4, "train_s": 2.7, "evaluate_s": 1.2, "score_s": 0.03,
              "total_s": 10.4},
  "peak_memory_bytes": 1073741824,
  "sandbox": {"layers": ["namespaces", "seccomp"], "notes": ["no cgroup"]},
  "limits": {"wall_s": 600.0, "cpu_s": 1200.0, "memory_bytes": 2147483648, "max_pids": 64},
  "log": ["staged 60000 samples", "epoch 1"],
  "output": [{"phase": "train", "path": "/state/jobs/1-1/train/output.log", "bytes": 120}]
})";

}  // namespace

TEST_SUITE("grade_json") {
  TEST_CASE("a full GradeResult survives the round trip, through the text too") {
    const GradeResult g = full_result();
    const json::value v = json::value_from(g);
    CAPTURE(json::serialize(v));
    CHECK(json::value_to<GradeResult>(v) == g);
    CHECK(json::value_to<GradeResult>(json::parse(json::serialize(v))) == g);
    GradeRecord record{g, {{"checkpoint", "d440e5"}}};
    CHECK(json::value_to<GradeRecord>(json::parse(json::serialize(json::value_from(record)))) == record);
  }

  TEST_CASE("the wire keeps every field's name, order and value") {
    const json::object written = json::value_from(full_result()).as_object();
    const json::object wire = json::parse(kWire).as_object();
    CAPTURE(json::serialize(written));
    // Fields added later may sit anywhere; the ones documented stay in order.
    std::vector<std::string> order;
    for (const auto& [key, value] : written) order.emplace_back(key);
    size_t at = 0;
    for (const auto& [key, value] : wire) {
      CAPTURE(std::string(key));
      const auto it = std::find(order.begin() + static_cast<std::ptrdiff_t>(at), order.end(), std::string(key));
      REQUIRE(it != order.end());
      at = static_cast<size_t>(it - order.begin()) + 1;
      CHECK(json::serialize(written.at(key)) == json::serialize(value));
    }
    // A cancelled grading stores no result: the flag is never written.
    CHECK_FALSE(written.contains("cancelled"));
  }

  TEST_CASE("an older stored result without resource use or sandbox reads as their defaults") {
    const GradeResult r = json::value_to<GradeResult>(json::parse(R"({"verdict":"ok","score":5})"));
    CHECK(r.verdict == Verdict::ok);
    CHECK(r.score == 5);
    CHECK(r.used == ResourceUse{});
    CHECK(r.sandbox == SandboxReport{});
  }

  TEST_CASE("a field of the wrong type is an error naming it") {
    auto problem = [](const char* text) {
      try {
        (void)json::value_to<GradeResult>(json::parse(text));
      } catch (const json_shape::ShapeError& e) {
        return std::string(e.what());
      }
      return std::string("(nothing thrown)");
    };
    CHECK(problem(R"({"verdict":"ok","limits":{"max_pids":"64"}})") == ".limits.max_pids: expected an integer");
    CHECK(problem(R"({"verdict":"ok","sandbox":{"layers":[1]}})") == ".sandbox.layers[0]: expected a string");
    CHECK(problem(R"({"verdict":"ok","train_max_rss_kb":1.5})") == ".train_max_rss_kb: expected an integer");
    CHECK(problem(R"({"score":5})") == ".verdict: missing (a string is required)");
  }
}
