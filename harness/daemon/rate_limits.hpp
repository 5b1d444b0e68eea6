// rate_limits.hpp — the proctored server's per-candidate limits
// (docs/server.md): how many submissions a candidate may make in any 60 s
// (--max-submissions-per-minute), and how fast they may send requests of
// any kind (--max-requests-per-second, --request-burst: a token bucket, so
// an editor's burst of calls passes and a flood is held to the rate).
//
// Both are keyed by the candidate's name, so every connection of one
// candidate shares one allowance, and take the time as an argument, so a
// test steps them without waiting. Memory: one entry per candidate that has
// made a call. Threads: one (the io thread).
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <string>

namespace torchexam::daemon {

using SteadyTime = std::chrono::steady_clock::time_point;

// At most `per_minute` takes per name in any 60 s; 0: no limit.
class SubmissionWindow {
 public:
  explicit SubmissionWindow(int per_minute) : per_minute_(per_minute) {}
  // Zero when `who` may submit at `now` (and the submission is counted),
  // else how long until they may.
  std::chrono::milliseconds take(const std::string& who, SteadyTime now);
  // Takes back the count made at `at` (a submission that failed).
  void give_back(const std::string& who, SteadyTime at);
  int per_minute() const { return per_minute_; }

 private:
  int per_minute_;
  std::map<std::string, std::deque<SteadyTime>> taken_;  // per name, the last 60 s
};

// A token bucket per name: it holds up to `burst` requests and refills at
// `per_second`; a request takes one. per_second <= 0: no limit.
class RequestBucket {
 public:
  RequestBucket(double per_second, double burst);
  // Zero when `who` may make a request at `now` (one is taken), else how
  // long until one is in the bucket again.
  std::chrono::milliseconds take(const std::string& who, SteadyTime now);
  double per_second() const { return per_second_; }
  double burst() const { return burst_; }

 private:
  struct Level {
    double tokens;
    SteadyTime at;
  };
  double per_second_, burst_;
  std::map<std::string, Level> levels_;
};

}  // namespace torchexam::daemon
