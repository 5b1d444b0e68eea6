// stats.hpp — the order statistics the benchmarks print.
//
// Header-only, no state. Both take their input by value and sort a copy, so
// callers may pass unsorted figures; an empty input gives 0.
#pragma once

#include <algorithm>
#include <cmath>
#include <vector>

namespace torchexam::bench {

// Nearest-rank percentile: the smallest value with at least p of the values
// at or below it (p in [0, 1]).
inline double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t rank = static_cast<size_t>(std::ceil(p * static_cast<double>(v.size())));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

inline double median(std::vector<double> v) { return percentile(std::move(v), 0.5); }

}  // namespace torchexam::bench
