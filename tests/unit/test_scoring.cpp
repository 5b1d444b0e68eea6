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
}
