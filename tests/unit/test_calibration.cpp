// Tests for the ladder proposal (grading/calibration.hpp), the ladder's
// rewrite in task.yaml's text (config/ladder_edit.hpp) and the new-task
// templates (cli/scaffold.hpp).
#include <doctest/doctest.h>

#include "base/hash.hpp"
#include "cli/scaffold.hpp"
#include "config/config.hpp"
#include "config/ladder_edit.hpp"
#include "grading/calibration.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>
#include <stdexcept>

using namespace torchexam;

namespace {

CalibrationRuns runs(std::string label, std::vector<std::optional<double>> metric) {
  CalibrationRuns r{std::move(label), std::move(metric), {}};
  for (const auto& m : r.metric) r.verdict.push_back(m ? "ok" : "runtime_error");
  return r;
}

const std::vector<uint64_t> kSeeds{1, 2, 3};

}  // namespace

TEST_SUITE("calibration") {
  TEST_CASE("higher is better: the reference scores 5 on every seed, the starter 0, a candidate between") {
    const auto p = propose_ladder(true, kSeeds, runs("reference.cpp", {0.95, 0.97, 0.96}),
                                  runs("starter.cpp", {0.31, 0.42, 0.35}), {runs("weak.cpp", {0.70, 0.72, 0.71})});
    REQUIRE_MESSAGE(p.ok, p.problem);
    REQUIRE(p.thresholds.size() == 5);
    for (size_t k = 1; k < 5; ++k) CHECK(p.thresholds[k] > p.thresholds[k - 1]);
    // The margin is a tenth of the gap (0.95 - 0.42); the ends keep it after rounding.
    CHECK(p.margin == doctest::Approx(0.053));
    CHECK(p.thresholds[4] <= 0.95 - p.margin + 1e-12);
    CHECK(p.thresholds[0] >= 0.42 + p.margin - 1e-12);
    REQUIRE(p.placements.size() == 3);
    CHECK(p.placements[0].scores == std::vector<int>{5, 5, 5});
    CHECK(p.placements[1].scores == std::vector<int>{0, 0, 0});
    for (int s : p.placements[2].scores) CHECK((s >= 2 && s <= 4));
    const config::Ladder ladder{p.thresholds, true, {}};
    CHECK(ladder.score(0.95) == 5);
    CHECK(ladder.score(0.42) == 0);
  }

  TEST_CASE("lower is better: thresholds decrease, the starter's NaN seed counts as 0") {
    const auto p = propose_ladder(false, kSeeds, runs("reference.cpp", {1.58, 1.69, 1.60}),
                                  runs("starter.cpp", {7.1, std::nullopt, 9.0}), {});
    REQUIRE_MESSAGE(p.ok, p.problem);
    for (size_t k = 1; k < 5; ++k) CHECK(p.thresholds[k] < p.thresholds[k - 1]);
    CHECK(p.thresholds[4] >= 1.69);
    CHECK(p.thresholds[0] <= 7.1);
    CHECK(p.placements[0].scores == std::vector<int>{5, 5, 5});
    CHECK(p.placements[1].scores == std::vector<int>{0, 0, 0});
    // Written as round decimals, without trailing zeros, that read back to the thresholds.
    for (size_t k = 0; k < 5; ++k) {
      CHECK(std::stod(p.written[k]) == p.thresholds[k]);
      CHECK(p.written[k].back() != '0');
      CHECK(p.written[k].back() != '.');
    }
  }

  TEST_CASE("a reference no better than the starter: no ladder, and the reason") {
    const auto p = propose_ladder(true, kSeeds, runs("reference.cpp", {0.40, 0.80, 0.90}),
                                  runs("starter.cpp", {0.35, 0.45, 0.30}), {});
    CHECK_FALSE(p.ok);
    CHECK(p.problem.find("no ladder meets the rules") != std::string::npos);
    CHECK(p.problem.find("0.4") != std::string::npos);
    CHECK(p.thresholds.empty());
  }

  TEST_CASE("a reference seed without a metric names the seed and the verdict") {
    const auto p = propose_ladder(true, kSeeds, runs("reference.cpp", {0.9, std::nullopt, 0.9}),
                                  runs("starter.cpp", {0.1, 0.1, 0.1}), {});
    CHECK_FALSE(p.ok);
    CHECK(p.problem.find("seed 2") != std::string::npos);
    CHECK(p.problem.find("runtime_error") != std::string::npos);
  }

  TEST_CASE("a starter with no metric on any seed cannot anchor the ladder") {
    const auto p = propose_ladder(true, kSeeds, runs("reference.cpp", {0.9, 0.9, 0.9}),
                                  runs("starter.cpp", {std::nullopt, std::nullopt, std::nullopt}), {});
    CHECK_FALSE(p.ok);
    CHECK(p.problem.find("starter") != std::string::npos);
  }

  TEST_CASE("a tiny gap still gives a strictly monotonic ladder that meets the rules") {
    const auto p = propose_ladder(true, kSeeds, runs("r", {0.500012, 0.500013, 0.500014}),
                                  runs("s", {0.500001, 0.5, 0.500002}), {});
    REQUIRE_MESSAGE(p.ok, p.problem);
    for (size_t k = 1; k < 5; ++k) CHECK(p.thresholds[k] > p.thresholds[k - 1]);
    CHECK(p.placements[0].scores == std::vector<int>{5, 5, 5});
    CHECK(p.placements[1].scores == std::vector<int>{0, 0, 0});
  }

  TEST_CASE("the comment names every source, its spread and its scores") {
    const auto ref = runs("reference.cpp", {0.95, 0.97, 0.96});
    const auto starter = runs("starter.cpp", {0.31, 0.42, 0.35});
    const auto p = propose_ladder(true, kSeeds, ref, starter, {});
    const auto lines = calibration_comment("accuracy", kSeeds, p, {ref, starter}, "2026-12-05");
    std::string all;
    for (const auto& l : lines) all += l + "\n";
    CHECK(all.find("reference reference.cpp: accuracy min 0.95  median 0.96  max 0.97") != std::string::npos);
    CHECK(all.find("scores 0, 0, 0") != std::string::npos);
    CHECK(all.find("seeds 1, 2, 3") != std::string::npos);
  }

  TEST_CASE("replace_ladder: the ladder and the comment above it change, the rest stays byte for byte") {
    const std::string before =
        "title: T   # the title\n"
        "metric: mae\n"
        "# an old calibration\n"
        "# on two lines\n"
        "ladder: [4.0, 3.0, 2.5, 2.1, 1.85]   # hand-made\n"
        "# Threads: a comment that belongs to threads\n"
        "threads: 1\n";
    const std::string after = config::replace_ladder(before, {"5", "4", "3", "2", "1.5"}, {"new", "", "evidence"});
    CHECK(after ==
          "title: T   # the title\n"
          "metric: mae\n"
          "# new\n"
          "#\n"
          "# evidence\n"
          "ladder: [5, 4, 3, 2, 1.5]\n"
          "# Threads: a comment that belongs to threads\n"
          "threads: 1\n");
  }

  TEST_CASE("replace_ladder: a block sequence and a multi-line flow sequence are replaced whole") {
    const std::string block = "ladder:\n  - 1\n  - 2\n  - 3\n  - 4\n  - 5\nseed: 3\n";
    CHECK(config::replace_ladder(block, {"0.1", "0.2", "0.3", "0.4", "0.5"}, {}) ==
          "ladder: [0.1, 0.2, 0.3, 0.4, 0.5]\nseed: 3\n");
    const std::string flow = "a: 1\nladder: [1, 2,\n   3, 4, 5]\nseed: 3\n";
    CHECK(config::replace_ladder(flow, {"1", "2", "3", "4", "6"}, {"c"}) == "a: 1\n# c\nladder: [1, 2, 3, 4, 6]\nseed: 3\n");
  }

  TEST_CASE("replace_ladder on the practice regression task.yaml: only the ladder and its comment change") {
    const std::string before = read_file(std::filesystem::path(TORCHEXAM_SOURCE_DIR) / "environments/practice/regression/task.yaml");
    const std::string after = config::replace_ladder(before, {"3.5", "3", "2.5", "2", "1.75"}, {"calibrated"});
    // Every line but the ladder and the comment block above it is kept, in order.
    auto outside = [](const std::string& text) {
      std::vector<std::string> kept, held;
      std::istringstream in(text);
      for (std::string line; std::getline(in, line);) {
        if (line.rfind('#', 0) == 0) {
          held.push_back(line);
          continue;
        }
        if (line.rfind("ladder:", 0) != 0) kept.insert(kept.end(), held.begin(), held.end()), kept.push_back(line);
        held.clear();
      }
      kept.insert(kept.end(), held.begin(), held.end());
      return kept;
    };
    CHECK(outside(after) == outside(before));
    CHECK(after.find("# calibrated\nladder: [3.5, 3, 2.5, 2, 1.75]\n# Threads (bench/references") != std::string::npos);
    CHECK(after.find("Calibration (2 threads, seed 42") == std::string::npos);
  }

  TEST_CASE("replace_ladder: no ladder, or two, is refused") {
    CHECK_THROWS_AS(config::replace_ladder("title: x\n", {"1", "2", "3", "4", "5"}, {}), std::invalid_argument);
    CHECK_THROWS_AS(config::replace_ladder("ladder: [1]\nladder: [2]\n", {"1", "2", "3", "4", "5"}, {}),
                    std::invalid_argument);
  }

  TEST_CASE("new-task templates render for every kind, with no placeholder left") {
    for (auto kind : {cli::TaskKind::classification, cli::TaskKind::regression, cli::TaskKind::forecast,
                      cli::TaskKind::custom}) {
      CAPTURE(cli::to_string(kind));
      cli::ScaffoldOptions o;
      o.kind = kind;
      o.name = "my_task";
      o.environment = "my-exam";
      const auto files = cli::render_scaffold(o);
      for (const char* f : {"task.yaml", "README.md", "starter.cpp", "reference.cpp", "plugin/CMakeLists.txt",
                            "plugin/my_task.cpp", "plugin/test_my_task.cpp", "../environment.yaml"}) {
        CAPTURE(f);
        REQUIRE(files.count(f) == 1);
        CHECK(files.at(f).find("@@") == std::string::npos);
      }
      const YAML::Node task = YAML::Load(files.at("task.yaml"));
      CHECK(task["plugin"].as<std::string>() == "my_task");
      CHECK(task["ladder"].size() == 5);
      CHECK(files.at("plugin/my_task.cpp").find("TORCHEXAM_EXPORT_PLUGIN(\"my_task\", Task)") != std::string::npos);
    }
    CHECK(cli::parse_task_kind("forecast") == cli::TaskKind::forecast);
    CHECK_FALSE(cli::parse_task_kind("clustering"));
  }

  TEST_CASE("render_template: sections by kind, and a placeholder without a value is a template bug") {
    const std::string t = "a @X@\n@@if one two\nin @X@\n@@endif\nend\n";
    CHECK(cli::render_template(t, "two", {{"X", "1"}}) == "a 1\nin 1\nend\n");
    CHECK(cli::render_template(t, "three", {{"X", "1"}}) == "a 1\nend\n");
    CHECK_THROWS_AS(cli::render_template("@Y@\n", "one", {}), std::logic_error);
    CHECK_THROWS_AS(cli::render_template("@@if a\n", "a", {}), std::logic_error);
    CHECK(cli::render_template("mail me@example.org\n", "a", {}) == "mail me@example.org\n");
  }
}
