// The plugins' scoring helpers (<torchexam/scoring.hpp>) against figures
// worked out by hand.
#include <doctest/doctest.h>

#include <torchexam/scoring.hpp>

#include <cmath>
#include <functional>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

using torchexam::Array;

Array floats(std::vector<float> values, std::vector<int64_t> shape) {
  return Array(Array::from_vector(std::move(values), TORCHEXAM_DTYPE_FLOAT32, std::move(shape)));
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "";
}

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

}  // namespace

TEST_SUITE("scoring") {
  TEST_CASE("classification: accuracy, confusion matrix and per-class precision, recall and F1") {
    // Truth 0 0 1 1 2 2, predicted (argmax) 0 1 1 1 0 2.
    const Array logits = floats({5, 1, 0,  //
                                 0, 3, 1,  //
                                 1, 2, 0,  //
                                 0, 9, 8,  //
                                 7, 0, 6,  //
                                 0, 1, 2},
                                {6, 3});
    const auto s = torchexam::score_classification(logits.get(), {0, 0, 1, 1, 2, 2}, 3);
    CHECK(s.samples == 6);
    CHECK(s.correct == 4);
    CHECK(s.accuracy == doctest::Approx(4.0 / 6.0));
    // Rows are the truth, columns the prediction.
    CHECK(s.confusion == std::vector<int64_t>{1, 1, 0,  //
                                              0, 2, 0,  //
                                              1, 0, 1});
    CHECK(s.count(2, 0) == 1);
    REQUIRE(s.per_class.size() == 3);
    // Class 0: 1 right of 2 predicted, 1 found of 2.
    CHECK(s.per_class[0].support == 2);
    CHECK(s.per_class[0].predicted == 2);
    CHECK(s.per_class[0].precision == doctest::Approx(0.5));
    CHECK(s.per_class[0].recall == doctest::Approx(0.5));
    CHECK(s.per_class[0].f1 == doctest::Approx(0.5));
    // Class 1: 2 right of 3 predicted, both found: F1 = 2 (2/3)(1) / (5/3) = 0.8.
    CHECK(s.per_class[1].predicted == 3);
    CHECK(s.per_class[1].precision == doctest::Approx(2.0 / 3.0));
    CHECK(s.per_class[1].recall == doctest::Approx(1.0));
    CHECK(s.per_class[1].f1 == doctest::Approx(0.8));
    // Class 2: 1 right of 1 predicted, 1 found of 2: F1 = 2 (1)(1/2) / (3/2) = 2/3.
    CHECK(s.per_class[2].precision == doctest::Approx(1.0));
    CHECK(s.per_class[2].recall == doctest::Approx(0.5));
    CHECK(s.per_class[2].f1 == doctest::Approx(2.0 / 3.0));
  }

  TEST_CASE("classification: ties go to the first maximum, NaN never wins, empty rates are 0") {
    // A tie between 1 and 2 -> 1; an all-NaN row -> 0; a NaN after the best
    // so far does not replace it -> 1; a NaN first is never replaced -> 0.
    const Array logits = floats({0, 4, 4, 0,  //
                                 kNaN, kNaN, kNaN, kNaN,  //
                                 0, 1, kNaN, 0,  //
                                 kNaN, 1, 0, 0},
                                {4, 4});
    const auto s = torchexam::score_classification(logits.get(), {1, 0, 1, 0}, 4);
    CHECK(s.accuracy == doctest::Approx(1.0));
    CHECK(s.count(1, 1) == 2);
    CHECK(s.count(0, 0) == 2);
    // Class 3 is neither present nor predicted: every rate is 0, not NaN.
    CHECK(s.per_class[3].support == 0);
    CHECK(s.per_class[3].precision == 0.0);
    CHECK(s.per_class[3].recall == 0.0);
    CHECK(s.per_class[3].f1 == 0.0);

    const Array none = floats({}, {0, 4});
    CHECK(torchexam::score_classification(none.get(), {}, 4).accuracy == 0.0);
  }

  TEST_CASE("classification: predictions of the wrong shape or dtype are refused with both shapes") {
    const Array logits = floats({0, 1, 2, 3, 4, 5}, {2, 3});
    CHECK(error_of([&] { torchexam::score_classification(logits.get(), {0, 1}, 2); }) ==
          "predictions must be [2, 2] float32, got [2, 3] float32");
    CHECK(error_of([&] { torchexam::score_classification(logits.get(), {0, 1, 1}, 3, "float32 logits"); }) ==
          "predictions must be [3, 3] float32 logits, got [2, 3] float32");
    const Array ids(Array::from_vector(std::vector<int64_t>{0, 1}, TORCHEXAM_DTYPE_INT64, {2, 1}));
    CHECK(error_of([&] { torchexam::score_classification(ids.get(), {0, 1}, 1); }) ==
          "predictions must be [2, 1] float32, got [2, 1] int64");
    CHECK(error_of([&] { torchexam::score_classification(logits.get(), {0, 3}, 3); }).find("label 3") !=
          std::string::npos);
  }

  TEST_CASE("mean absolute error: over every value and per output column") {
    // Errors 1 0 / 2 4: overall 7/4, column 0 (1+2)/2, column 1 (0+4)/2.
    const Array p = floats({1, 2, 3, 4}, {2, 2});
    const auto s = torchexam::score_mean_absolute_error(p.get(), {2, 2, 1, 8}, 2);
    CHECK(s.samples == 2);
    CHECK(s.outputs == 2);
    CHECK(s.mae == doctest::Approx(1.75));
    REQUIRE(s.mae_per_output.size() == 2);
    CHECK(s.mae_per_output[0] == doctest::Approx(1.5));
    CHECK(s.mae_per_output[1] == doctest::Approx(2.0));

    const Array nan = floats({1, kNaN}, {2, 1});
    const auto with_nan = torchexam::score_mean_absolute_error(nan.get(), {1, 1}, 1);
    CHECK(std::isnan(with_nan.mae));
    CHECK(std::isnan(with_nan.mae_per_output[0]));

    const Array none = floats({}, {0, 3});
    CHECK(torchexam::score_mean_absolute_error(none.get(), {}, 3).mae == 0.0);
  }

  TEST_CASE("mean absolute error: predictions of the wrong shape are refused") {
    const Array p = floats({1, 2, 3}, {3});
    CHECK(error_of([&] { torchexam::score_mean_absolute_error(p.get(), {1, 2, 3}, 1); }) ==
          "predictions must be [3, 1] float32, got [3] float32");
    CHECK_THROWS_AS(torchexam::score_mean_absolute_error(p.get(), {1, 2, 3}, 2), std::invalid_argument);
  }

  TEST_CASE("JsonText writes nested objects and arrays with escaped strings and exact numbers") {
    torchexam::JsonText j;
    j.begin_object().key("a").begin_array().value(int64_t{1}).value(2.5).value("x\"y\\z\n").end_array();
    j.key("b").begin_object().end_object().key("c").array(std::vector<double>{0.1, -3, 1e21}).end_object();
    CHECK(j.text() == R"({"a":[1,2.5,"x\"y\\z\u000a"],"b":{},"c":[0.1,-3,1e+21]})");
    CHECK_THROWS_AS(torchexam::JsonText().value(std::nan("")), std::invalid_argument);
  }

  TEST_CASE("classification diagnostics: the confusion matrix and per-class figures as JSON") {
    // Truth 0 0 1 1 2 2, predicted 0 1 1 1 0 2 (as above).
    const Array logits = floats({5, 1, 0, 0, 3, 1, 1, 2, 0, 0, 9, 8, 7, 0, 6, 0, 1, 2}, {6, 3});
    const torchexam::Scored s = torchexam::scored_classification(logits.get(), {0, 0, 1, 1, 2, 2}, {"a", "b", "c"});
    CHECK(s.metric == doctest::Approx(4.0 / 6.0));
    CHECK(s.diagnostics_json ==
          R"({"kind":"classification","classification":{"accuracy":0.6666666666666666,"classes":["a","b","c"],)"
          R"("confusion":[[1,1,0],[0,2,0],[1,0,1]],"per_class":[)"
          R"({"name":"a","precision":0.5,"recall":0.5,"f1":0.5,"support":2},)"
          R"({"name":"b","precision":0.6666666666666666,"recall":1,"f1":0.8,"support":2},)"
          R"({"name":"c","precision":1,"recall":0.5,"f1":0.6666666666666666,"support":2}]}})");
    CHECK(error_of([&] { torchexam::scored_classification(logits.get(), {0, 0, 1, 1, 2, 2}, {"a", "b"}); }) ==
          "predictions must be [6, 2] float32, got [6, 3] float32");
  }

  TEST_CASE("residual histogram: 20 bins over a round bound of the largest residual") {
    // Largest |residual| 0.5: bins of 0.05 over [-0.5, 0.5]; 0.5 itself falls in the last.
    const auto h = torchexam::residual_histogram({-0.3, 0.1, 0.37, 0.5, -0.05});
    REQUIRE(h.edges.size() == 21);
    CHECK(h.edges.front() == -0.5);
    CHECK(h.edges[4] == -0.3);
    CHECK(h.edges[10] == 0.0);
    CHECK(h.edges[12] == 0.1);
    CHECK(h.edges.back() == 0.5);
    std::vector<int64_t> counts(20, 0);
    counts[4] = 1;   // -0.3 in [-0.3, -0.25)
    counts[9] = 1;   // -0.05 in [-0.05, 0)
    counts[12] = 1;  // 0.1 in [0.1, 0.15)
    counts[17] = 1;  // 0.37 in [0.35, 0.4)
    counts[19] = 1;  // 0.5
    CHECK(h.counts == counts);
    // 37 rounds up to 50, 0.0021 to 0.0025, 7 to 10; no residual at all: [-1, 1].
    CHECK(torchexam::residual_histogram({-37, 2}).edges.back() == 50);
    CHECK(torchexam::residual_histogram({0.0021}).edges.front() == -0.0025);
    CHECK(torchexam::residual_histogram({7}).edges.back() == 10);
    CHECK(torchexam::residual_histogram({0, 0}).edges.back() == 1);
    CHECK(torchexam::residual_histogram({0, 0}).counts[10] == 2);
    CHECK(torchexam::residual_histogram({}).counts == std::vector<int64_t>(20, 0));
  }

  TEST_CASE("MAE by target range: deciles of equal count, none that could stand for one sample") {
    // Targets 49 .. 0 (unsorted on purpose); prediction = target + decile index + 1, alternating sign.
    std::vector<double> targets, predictions;
    for (int i = 49; i >= 0; --i) {
      targets.push_back(i);
      const double error = i / 5 + 1;
      predictions.push_back(i + (i % 2 ? error : -error));
    }
    const auto ranges = torchexam::mae_by_target_range(predictions, targets);
    REQUIRE(ranges.size() == 10);
    for (size_t g = 0; g < 10; ++g) {
      CAPTURE(g);
      CHECK(ranges[g].low == 5.0 * g);
      CHECK(ranges[g].high == 5.0 * g + 4);
      CHECK(ranges[g].count == 5);
      CHECK(ranges[g].mae == doctest::Approx(g + 1.0));
    }
    // 12 targets: two ranges of 6; 4 targets: none.
    const std::vector<double> twelve = {11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};
    const auto two = torchexam::mae_by_target_range(twelve, twelve);
    REQUIRE(two.size() == 2);
    CHECK(two[0].count == 6);
    CHECK(two[1].low == 6);
    CHECK(torchexam::mae_by_target_range({1, 2, 3, 4}, {1, 2, 3, 4}).empty());
    CHECK_THROWS_AS(torchexam::mae_by_target_range({1}, {1, 2}), std::invalid_argument);
  }

  TEST_CASE("regression and forecast diagnostics as JSON; none for a NaN prediction") {
    const Array p = floats({1, 2, 3, 4, 5}, {5, 1});
    const torchexam::Scored r = torchexam::scored_regression(p.get(), {1.5, 2.5, 2.5, 4.5, 5.5});
    CHECK(r.metric == doctest::Approx(0.5));
    CHECK(r.diagnostics_json ==
          R"({"kind":"regression","regression":{"by_target_range":[{"low":1.5,"high":5.5,"count":5,"mae":0.5}],)"
          R"("residuals":{"edges":[-0.5,-0.45,-0.4,-0.35,-0.3,-0.25,-0.2,-0.15,-0.1,-0.05,0,)"
          R"(0.05,0.1,0.15,0.2,0.25,0.3,0.35,0.4,0.45,0.5],)"
          R"("counts":[4,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,1]}}})");

    // Two windows of three steps: errors per step 1, 0.5, 2 (then 1, 1.5, 0).
    const Array f = floats({1, 2, 3, 4, 5, 6}, {2, 3});
    const torchexam::Scored s = torchexam::scored_forecast(f.get(), {0, 1.5, 1, 3, 6.5, 6}, 3, "week");
    CHECK(s.metric == doctest::Approx(1.0));
    CHECK(s.diagnostics_json.find(R"("kind":"forecast","forecast":{"step_unit":"week","mae_per_step":[1,1,1])") !=
          std::string::npos);

    const Array nan = floats({1, kNaN, 3, 4, 5}, {5, 1});
    const torchexam::Scored none = torchexam::scored_regression(nan.get(), {1, 2, 3, 4, 5});
    CHECK(std::isnan(none.metric));
    CHECK(none.diagnostics_json.empty());
    const Array inf = floats({1, 2, std::numeric_limits<float>::infinity(), 4, 5, 6}, {2, 3});
    CHECK(torchexam::scored_forecast(inf.get(), {1, 2, 3, 4, 5, 6}, 3, "week").diagnostics_json.empty());
  }
}
