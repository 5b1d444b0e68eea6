// The trusted scorer (grading/scorer.hpp) taking a plugin's diagnostics: a
// plugin without the entry point is scored on its metric alone; a valid
// text becomes TaskDiagnostics; a malformed, misshapen or oversized one is
// dropped with a note and the metric stands. The SDK's texts read back as
// the harness's shape.
#include "grading/scorer.hpp"

#include "grading/task_diagnostics.hpp"

#include <torchexam/plugin.hpp>
#include <torchexam/scoring.hpp>

#include <doctest/doctest.h>

#include <filesystem>
#include <string>
#include <vector>

using namespace torchexam;
namespace fs = std::filesystem;

namespace {

fs::path test_plugin(const char* name) {
  return fs::path(TORCHEXAM_TEST_PLUGIN_DIR) / (std::string("libtorchexam_test_plugin_") + name + ".so");
}

// Lower is better: 0.75 meets the first two thresholds.
config::Ladder ladder() {
  config::Ladder l;
  l.thresholds = {1.0, 0.8, 0.6, 0.4, 0.2};
  l.higher_is_better = false;
  return l;
}

Array predictions(int64_t rows) {
  return Array(Array::from_vector(std::vector<float>(static_cast<size_t>(rows)), TORCHEXAM_DTYPE_FLOAT32, {rows, 1}));
}

ScoreOutcome score_text(const std::string& text) {
  return score_predictions(test_plugin("diagnostics_text"), {{"text", text}}, predictions(3), ladder());
}

const char* kValidForecast =
    R"({"kind":"forecast","forecast":{"step_unit":"week","mae_per_step":[0.25,0.5],)"
    R"("residuals":{"edges":[-1,0,1],"counts":[3,3]}}})";

// A list as long as a hidden label vector (300 entries).
std::string label_vector_sized() {
  std::string list = "[0";
  for (int i = 1; i < 300; ++i) list += ",1";
  return list + "]";
}

}  // namespace

TEST_SUITE("scorer") {
  TEST_CASE("a plugin built before score_with_diagnostics is scored on its metric alone") {
    for (const char* old : {"abi_v1_before_diagnostics", "abi_v1_without_evaluation"}) {
      CAPTURE(old);
      const bool newer = std::string(old) == "abi_v1_before_diagnostics";
      const ScoreOutcome s = score_predictions(test_plugin(old), {}, predictions(3), ladder());
      CHECK(s.metric == (newer ? 0.25 : 0.0));
      CHECK(s.score == (newer ? 4 : 5));
      CHECK_FALSE(s.diagnostics);
      CHECK(s.diagnostics_note.empty());
    }
  }

  TEST_CASE("a plugin's valid diagnostics text becomes the grading's task diagnostics") {
    const ScoreOutcome s = score_text(kValidForecast);
    CHECK(s.metric == 0.75);
    CHECK(s.score == 2);
    REQUIRE(s.diagnostics);
    CHECK(s.diagnostics->kind == "forecast");
    REQUIRE(s.diagnostics->forecast);
    CHECK(s.diagnostics->forecast->mae_per_step == std::vector<double>{0.25, 0.5});
    CHECK(s.diagnostics_note.empty());

    const ScoreOutcome none = score_text("");  // a plugin may give none for a grading
    CHECK(none.metric == 0.75);
    CHECK_FALSE(none.diagnostics);
    CHECK(none.diagnostics_note.empty());
  }

  TEST_CASE("faulty diagnostics are dropped with the reason, and the metric and score stand") {
    const auto dropped = [](const ScoreOutcome& s) {
      CHECK(s.metric == 0.75);
      CHECK(s.score == 2);
      CHECK_FALSE(s.diagnostics);
      CHECK(s.diagnostics_note.find("task diagnostics of plugin 'diagnostics_text' dropped, the metric stands (a "
                                    "fault of the plugin, not of the solution): ") == 0);
      return s.diagnostics_note;
    };
    CHECK(dropped(score_text("{\"kind\":")).find("the text is not JSON") != std::string::npos);
    CHECK(dropped(score_text("{\"kind\":\"forecast\",\"forecast\":{\"step_unit\":\"w\\u00e9\xff\"}}"))
              .find("the text is not JSON") != std::string::npos);  // not UTF-8
    CHECK(dropped(score_text(R"({"kind":"classification","classification":{"accuracy":1,"classes":["a","b"],)"
                             R"("confusion":[[1,0]],"per_class":[]}})"))
              .find("diagnostics.classification.confusion: 1 rows for 2 classes") != std::string::npos);
    // A label-vector-sized list is refused by the bounded shape.
    CHECK(dropped(score_text(R"({"kind":"forecast","forecast":{"step_unit":"week","mae_per_step":)" +
                             label_vector_sized() + R"(,"residuals":{"edges":[0,1],"counts":[1]}}})"))
              .find("diagnostics.forecast.mae_per_step: 300 entries, more than the 256") != std::string::npos);
    const std::string huge = std::string(R"({"kind":"forecast","forecast":{"step_unit":")") +
                             std::string(kMaxDiagnosticsBytes, 'w') + R"(","mae_per_step":[],)" +
                             R"("residuals":{"edges":[0,1],"counts":[1]}}})";
    CHECK(dropped(score_text(huge)).find("more than the 1048576 diagnostics may take") != std::string::npos);

    // score_with_diagnostics fails: the plugin is scored again through score().
    const ScoreOutcome failed =
        score_predictions(test_plugin("diagnostics_text"), {{"fail", "1"}}, predictions(3), ladder());
    CHECK(dropped(failed).find("the diagnostics could not be computed") != std::string::npos);
  }

  TEST_CASE("the SDK's diagnostics read back as the harness's shape; a label-vector-sized one is refused") {
    // Truth 0 0 1, predicted 0 1 1.
    const Array logits(Array::from_vector(std::vector<float>{2, 1, 0, 3, 0, 5}, TORCHEXAM_DTYPE_FLOAT32, {3, 2}));
    const Scored c = scored_classification(logits.get(), {0, 0, 1}, {"ham", "spam"});
    const TaskDiagnostics d = read_plugin_diagnostics(c.diagnostics_json);
    REQUIRE(d.classification);
    CHECK(d.classification->accuracy == doctest::Approx(2.0 / 3.0));
    CHECK(d.classification->classes == std::vector<std::string>{"ham", "spam"});
    CHECK(d.classification->confusion == std::vector<std::vector<int64_t>>{{1, 1}, {0, 1}});
    CHECK(d.classification->per_class.at(1).precision == doctest::Approx(0.5));
    CHECK(d.classification->per_class.at(0).support == 2);

    std::vector<double> targets(30);
    for (size_t i = 0; i < targets.size(); ++i) targets[i] = static_cast<double>(i);
    const Array column(Array::from_vector(std::vector<float>(30, 1.f), TORCHEXAM_DTYPE_FLOAT32, {30, 1}));
    const TaskDiagnostics r = read_plugin_diagnostics(scored_regression(column.get(), targets).diagnostics_json);
    REQUIRE(r.regression);
    CHECK(r.regression->by_target_range.size() == 6);  // 30 targets: ranges of at least 5
    const Array steps(Array::from_vector(std::vector<float>(30, 2.f), TORCHEXAM_DTYPE_FLOAT32, {15, 2}));
    const TaskDiagnostics f = read_plugin_diagnostics(scored_forecast(steps.get(), targets, 2, "week").diagnostics_json);
    REQUIRE(f.forecast);
    CHECK(f.forecast->mae_per_step.size() == 2);

    // 300 classes: the SDK writes it, the harness refuses it.
    std::vector<std::string> names;
    for (int i = 0; i < 300; ++i) names.push_back("c" + std::to_string(i));
    const Array many(Array::from_vector(std::vector<float>(300, 0.f), TORCHEXAM_DTYPE_FLOAT32, {1, 300}));
    const std::string text = scored_classification(many.get(), {7}, names).diagnostics_json;
    CHECK_THROWS_WITH_AS(read_plugin_diagnostics(text),
                         doctest::Contains("diagnostics.classification.classes: 300 entries, more than the 256"),
                         std::runtime_error);
  }
}
