// progress.hpp — the live progress line on stderr: rewritten in place on a
// terminal, one line per epoch otherwise (logs, CI). Used by `grade` (as a
// GradeObserver) and by `submit --wait` (fed from the daemon's notifications).
#pragma once

#include "events.hpp"
#include "grader.hpp"

#include <string>
#include <string_view>

namespace torchexam::cli {

// "1h05m", "4m10s", "12s"; "?" for negative values.
std::string format_duration(double seconds);

class ProgressLine {
 public:
  ProgressLine();
  ~ProgressLine();
  void stage(std::string_view name);
  void progress(const events::Progress& p, std::string_view suffix = {});
  void log(std::string_view message);

 private:
  void end_line();
  bool tty_;
  bool open_ = false;
};

class ProgressPrinter final : public GradeObserver {
 public:
  void phase(std::string_view name) override { line_.stage(name); }
  void event(const events::Event& e) override;

 private:
  ProgressLine line_;
};

}  // namespace torchexam::cli
