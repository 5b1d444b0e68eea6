// The proctored server's per-candidate limits (daemon/rate_limits.hpp),
// stepped through time by hand: a burst passes, a flood is refused with how
// long to wait, the bucket refills, and each candidate has their own.
#include <doctest/doctest.h>

#include "daemon/rate_limits.hpp"

using namespace torchexam::daemon;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_SUITE("rate_limits") {
  TEST_CASE("the request bucket lets a burst through, refuses beyond it with the wait, and refills") {
    RequestBucket bucket(2, 5);  // 2 a second, bursts of 5
    const SteadyTime t0 = SteadyTime{} + std::chrono::hours(1);
    for (int i = 0; i < 5; ++i) CHECK(bucket.take("ana", t0) == milliseconds(0));
    const auto wait = bucket.take("ana", t0);
    CHECK(wait == milliseconds(500));                  // one token comes back in half a second
    CHECK(bucket.take("ben", t0) == milliseconds(0));  // ben's bucket is his own
    CHECK(bucket.take("ana", t0 + milliseconds(499)) > milliseconds(0));
    CHECK(bucket.take("ana", t0 + milliseconds(600)) == milliseconds(0));
    // A long pause fills the bucket to the burst, no more.
    const SteadyTime later = t0 + seconds(3600);
    for (int i = 0; i < 5; ++i) CHECK(bucket.take("ana", later) == milliseconds(0));
    CHECK(bucket.take("ana", later) > milliseconds(0));
  }

  TEST_CASE("a zero rate is no limit") {
    RequestBucket bucket(0, 1);
    for (int i = 0; i < 1000; ++i) REQUIRE(bucket.take("ana", SteadyTime{}) == milliseconds(0));
    SubmissionWindow window(0);
    for (int i = 0; i < 1000; ++i) REQUIRE(window.take("ana", SteadyTime{}) == milliseconds(0));
  }

  TEST_CASE("the submission window counts 60 s back, and a failed submission gives its count back") {
    SubmissionWindow window(2);
    const SteadyTime t0 = SteadyTime{} + std::chrono::hours(1);
    CHECK(window.take("ana", t0) == milliseconds(0));
    CHECK(window.take("ana", t0 + seconds(10)) == milliseconds(0));
    CHECK(window.take("ana", t0 + seconds(20)) == seconds(40));  // the first leaves the window at t0 + 60 s
    window.give_back("ana", t0 + seconds(10));
    CHECK(window.take("ana", t0 + seconds(20)) == milliseconds(0));
    CHECK(window.take("ana", t0 + seconds(60)) == milliseconds(0));  // t0's has left
    CHECK(window.take("ben", t0 + seconds(20)) == milliseconds(0));
  }
}
