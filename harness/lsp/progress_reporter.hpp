// progress_reporter.hpp — shows a submission's grading progress in the
// editor: window/workDoneProgress/create then $/progress begin/report/end when
// the client supports work-done progress, window/logMessage otherwise (one
// line per stage and per epoch, not per batch).
//
// Contract: single-threaded. A token is used only after the client answered
// its create request; notes arriving meanwhile are folded into the begin. If
// the client refuses the token, that submission falls back to log messages.
#pragma once

#include "lsp/rpc_peer.hpp"
#include "protocol/messages.hpp"

#include <map>
#include <optional>
#include <string>

namespace torchexam::lsp {

class ProgressReporter {
 public:
  ProgressReporter(Endpoint& editor, bool work_done_progress) : editor_(editor), work_done_(work_done_progress) {}

  void update(const ProgressNote& p);
  void finish(const protocol::Finished& f);

 private:
  enum class State { creating, active, logging, done };
  struct Item {
    State state = State::creating;
    std::string title, message, last_logged;
    std::optional<int> percentage;
    std::optional<std::string> end_message;  // set once finished
  };
  void begin(int64_t id);
  void log(const std::string& line);
  static std::string token(int64_t id);

  Endpoint& editor_;
  bool work_done_;
  std::map<int64_t, Item> items_;
};

}  // namespace torchexam::lsp
