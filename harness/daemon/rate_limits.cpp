#include "daemon/rate_limits.hpp"

#include <algorithm>
#include <cmath>

namespace torchexam::daemon {
using std::chrono::milliseconds;

milliseconds SubmissionWindow::take(const std::string& who, SteadyTime now) {
  if (per_minute_ <= 0) return milliseconds(0);
  auto& times = taken_[who];
  while (!times.empty() && now - times.front() >= std::chrono::seconds(60)) times.pop_front();
  if (static_cast<int>(times.size()) >= per_minute_)
    return std::max(milliseconds(1),
                    std::chrono::duration_cast<milliseconds>(times.front() + std::chrono::seconds(60) - now));
  times.push_back(now);
  return milliseconds(0);
}

void SubmissionWindow::give_back(const std::string& who, SteadyTime at) {
  auto& times = taken_[who];
  if (auto it = std::find(times.begin(), times.end(), at); it != times.end()) times.erase(it);
}

RequestBucket::RequestBucket(double per_second, double burst) : per_second_(per_second), burst_(std::max(1.0, burst)) {}

milliseconds RequestBucket::take(const std::string& who, SteadyTime now) {
  if (per_second_ <= 0) return milliseconds(0);
  auto [it, fresh] = levels_.try_emplace(who, Level{burst_, now});
  Level& l = it->second;
  if (!fresh && now > l.at) {
    const double elapsed = std::chrono::duration<double>(now - l.at).count();
    l.tokens = std::min(burst_, l.tokens + elapsed * per_second_);
  }
  l.at = std::max(l.at, now);
  if (l.tokens >= 1) {
    l.tokens -= 1;
    return milliseconds(0);
  }
  const double wait_s = (1 - l.tokens) / per_second_;
  return std::max(milliseconds(1), milliseconds(static_cast<int64_t>(std::ceil(wait_s * 1000))));
}

}  // namespace torchexam::daemon
