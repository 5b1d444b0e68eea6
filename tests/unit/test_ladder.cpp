// Tests for Ladder::score: one point per threshold met, at the boundaries.
#include <doctest/doctest.h>

#include <cmath>
#include <limits>

#include "config/config.hpp"

using torchexam::config::Ladder;

namespace {

Ladder increasing() { return Ladder{{0.80, 0.84, 0.87, 0.89, 0.91}, true, {}}; }
Ladder decreasing() { return Ladder{{0.50, 0.40, 0.30, 0.20, 0.10}, false, {}}; }

// Just past `x` towards +infinity or -infinity.
double above(double x) { return std::nextafter(x, std::numeric_limits<double>::infinity()); }
double below(double x) { return std::nextafter(x, -std::numeric_limits<double>::infinity()); }

}  // namespace

TEST_SUITE("ladder") {
  TEST_CASE("higher is better: a threshold is met at or above it") {
    const Ladder ladder = increasing();
    for (int i = 0; i < 5; ++i) {
      const double t = ladder.thresholds[static_cast<size_t>(i)];
      CAPTURE(t);
      CHECK(ladder.score(t) == i + 1);
      CHECK(ladder.score(below(t)) == i);
      CHECK(ladder.score(above(t)) == i + 1);
    }
  }

  TEST_CASE("higher is better: outside the ladder") {
    const Ladder ladder = increasing();
    CHECK(ladder.score(0.0) == 0);
    CHECK(ladder.score(-1.0) == 0);
    CHECK(ladder.score(0.79) == 0);
    CHECK(ladder.score(0.95) == 5);
    CHECK(ladder.score(1.0) == 5);
    CHECK(ladder.score(std::numeric_limits<double>::infinity()) == 5);
    CHECK(ladder.score(-std::numeric_limits<double>::infinity()) == 0);
  }

  TEST_CASE("lower is better: a threshold is met at or below it") {
    const Ladder ladder = decreasing();
    for (int i = 0; i < 5; ++i) {
      const double t = ladder.thresholds[static_cast<size_t>(i)];
      CAPTURE(t);
      CHECK(ladder.score(t) == i + 1);
      CHECK(ladder.score(above(t)) == i);
      CHECK(ladder.score(below(t)) == i + 1);
    }
  }

  TEST_CASE("lower is better: outside the ladder") {
    const Ladder ladder = decreasing();
    CHECK(ladder.score(0.6) == 0);
    CHECK(ladder.score(100.0) == 0);
    CHECK(ladder.score(0.05) == 5);
    CHECK(ladder.score(0.0) == 5);
    CHECK(ladder.score(-std::numeric_limits<double>::infinity()) == 5);
    CHECK(ladder.score(std::numeric_limits<double>::infinity()) == 0);
  }

  TEST_CASE("NaN scores 0") {
    const double nan = std::numeric_limits<double>::quiet_NaN();
    CHECK(increasing().score(nan) == 0);
    CHECK(decreasing().score(nan) == 0);
  }

  TEST_CASE("an empty ladder scores 0") {
    CHECK(Ladder{}.score(1.0) == 0);
  }
}
