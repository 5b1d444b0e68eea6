// render.hpp — a Report (model.hpp) as one self-contained HTML page: the
// stylesheet inline, every chart inline SVG (charts.hpp), no script, no
// font, no image file, no http(s) reference; a Content-Security-Policy
// meta tag forbids loading anything, so a browser or the VS Code webview
// shows it offline and with scripts off.
//
// Contract: the same Report gives the same bytes (no "now"; numbers through
// num() and fixed formats; times in UTC). Every string from the candidate,
// a job or the daemon is escaped (svg.hpp escape(): valid UTF-8, & < > " '
// as references). Every chart has a title and a description (role="img")
// and its numbers in a table below it, for readers that do not see it.
// Sections, in order: the header (session facts); for a session, the
// score table against the pass mark and the score timeline; for a task,
// its submissions and their timeline; then each submission drawn in full —
// a failed run's message and diagnostics first, the score on the ladder,
// training curves, task diagnostics (or a note that they are hidden), and
// the fingerprint footer. docs/guide.md ("The report") shows each part.
// Threads: none shared. Failure: none.
#pragma once

#include "report/model.hpp"

#include <string>

namespace torchexam::report {

std::string render_html(const Report& report);

// "2026-03-02 10:00:00 UTC" (exposed for tests).
std::string utc_time(int64_t unix_ms);
// "2h 05m", "5m 03s", "42s"; a negative time as 0s.
std::string duration_text(double seconds);

}  // namespace torchexam::report
