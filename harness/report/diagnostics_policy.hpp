// diagnostics_policy.hpp — whether a report may show a session's task
// diagnostics (the aggregates over hidden data: confusion matrix, error by
// range, error per step) or the metric only.
//
// PLACEHOLDER until the environment option `report: {diagnostics: full |
// metric_only}` (issue 19 item 3) lands with its own diagnostics_visible():
// this one applies that option's defaults only — a practice session shows
// everything, an exam-mode session shows the metric only until it is no
// longer running or paused (closed or stopped). The merge replaces the body
// with a call to the real policy; the daemon (daemon/report_source.cpp) is
// its only caller.
#pragma once

#include <string_view>

namespace torchexam::report {

inline bool diagnostics_visible(std::string_view mode, std::string_view state) {
  if (mode != "exam") return true;
  return state != "running" && state != "paused";
}

}  // namespace torchexam::report
