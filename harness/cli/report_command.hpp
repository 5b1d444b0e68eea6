// report_command.hpp — `torchexam report`, through the daemon (report/data):
//
//   torchexam report [SUBMISSION] [--task T] [-o FILE] [--open] [--json] [--session ID] [--socket PATH]
//
// SUBMISSION: that grading; --task T: every submission of T; neither: the
// whole session (the one whose workspace holds this folder, or --session).
// Writes one self-contained HTML file (report/render.hpp) to FILE, by
// default into the session's workspace (report/report_file.hpp), and says
// where; --json prints the same data as JSON instead (to FILE with -o);
// --open hands the HTML file to xdg-open, detached.
//
// Exit status: 0 written (and opened); 1 the daemon refused (no such
// submission or task, no session here) or there is no xdg-open; 2 usage; 3
// no daemon could be reached or the file could not be written.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace torchexam::cli {

class ReportCommand {
 public:
  explicit ReportCommand(CLI::App& app);
  // The exit status when `report` was given, nullopt otherwise.
  std::optional<int> run();

 private:
  CLI::App* cmd_;
  std::string session_, candidate_, socket_, task_, output_;
  long long submission_ = 0;
  bool open_ = false, json_ = false;
};

}  // namespace torchexam::cli
