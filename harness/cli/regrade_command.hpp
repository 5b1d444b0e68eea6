// regrade_command.hpp — `torchexam regrade`, through the daemon's rejudge/
// methods (docs/rejudging.md):
//
//   torchexam regrade (--submission N | --task T [--session S] | --session S | --environment E [--task T])
//                     (--rescore | --retrain) [--reason TEXT] [--no-wait]
//   torchexam regrade --show ID | --apply ID | --cancel ID
//
// Every form takes --json (the set as JSON on stdout) and --socket PATH.
// A new set is followed until it is in review (progress on stderr), then
// its old/new/delta table printed; --no-wait prints it as it is at once.
// A set is made only of graded submissions; --task without --session means
// the session open here (or the only one).
//
// Exit status: 0 done; 1 the daemon refused (the message says why: an
// overlapping set, a set not in review, ...); 2 usage; 3 no daemon could be
// reached.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace torchexam::cli {

class RegradeCommand {
 public:
  explicit RegradeCommand(CLI::App& app);
  // The exit status when `regrade` was given, nullopt otherwise.
  std::optional<int> run();

 private:
  // What is wrong with the options given, and how to put it right; "" when nothing.
  std::string usage_problem() const;

  CLI::App* cmd_;
  long long submission_ = 0, show_ = 0, apply_ = 0, cancel_ = 0;
  std::string task_, session_, environment_, reason_, socket_;
  bool rescore_ = false, retrain_ = false, no_wait_ = false, json_ = false;
};

}  // namespace torchexam::cli
