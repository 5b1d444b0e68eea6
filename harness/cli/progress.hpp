// progress.hpp — training progress on stderr. Used by `grade` (as a
// GradeObserver) and by `submit --wait` / `follow` (fed from the daemon's
// notifications).
//
// On a terminal: one live line rewritten in place (epoch, batch, loss,
// samples/s, ETA, elapsed of the budget); an epoch's line stays on screen
// only when the metrics the solution reports (ctx.metric) changed, and the
// last one always does. Elsewhere (logs, CI): a line at most every
// kQuietSeconds, an epoch whose metrics changed, and the last epoch.
#pragma once

#include "grading/grader.hpp"
#include "sandbox/events.hpp"

#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace torchexam::cli {

// "1h05m", "4m10s", "12s"; "?" for negative values.
std::string format_duration(double seconds);

// A grading's metric as the tables print it: "0.8558"; "-" when it has none.
std::string format_metric(const std::optional<double>& metric);

class ProgressLine {
 public:
  static constexpr double kQuietSeconds = 5;

  // `tty`: whether stderr is a terminal (by default, ask isatty).
  ProgressLine();
  explicit ProgressLine(bool tty);
  ~ProgressLine();
  void stage(std::string_view name);
  void progress(const events::Progress& p, std::string_view suffix = {});
  void log(std::string_view message);

  // The text of one progress line (no newline), e.g.
  // "  epoch 3/20  batch 50/469  loss 0.4123  3512 samples/s  ETA 1m04s  0m21s of 3m00s".
  static std::string format(const events::Progress& p);

 private:
  void end_line();  // the live line stays as it is, the next output starts below
  void flush_held();
  bool tty_;
  bool open_ = false;
  double last_print_ = -1e300;  // steady seconds of the last line printed (not a terminal)
  std::map<std::string, double> last_metrics_;
  std::optional<std::string> held_;  // an epoch line not printed yet (not a terminal)
};

class ProgressPrinter final : public GradeObserver {
 public:
  void phase(std::string_view name) override { line_.stage(name); }
  void event(const events::Event& e) override;

 private:
  ProgressLine line_;
};

}  // namespace torchexam::cli
