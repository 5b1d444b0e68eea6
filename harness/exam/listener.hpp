// listener.hpp — what the exam core tells the daemon as it happens.
//
// ExamService fans each note out to every ExamListener added to it; the
// pieces behind the service (session book, job queue, job workers, syntax
// checker) report to one ExamListener, the service's, which keeps the
// scores up to date before passing the note on.
//
// Threads: every callback runs on the io thread. A listener must not add
// or remove listeners from a callback other than its own removal.
#pragma once

#include "exam/states.hpp"
#include "grading/compiler.hpp"
#include "sandbox/events.hpp"
#include "store/store.hpp"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace torchexam {

struct ProgressNote {
  std::string session;
  int64_t submission = 0;
  std::string task;
  Stage stage = Stage::queued;
  int queue_position = 0;
  std::optional<events::Progress> progress;
  friend bool operator==(const ProgressNote&, const ProgressNote&) = default;
};

// A rejudging set moved: an item was regraded, or its state changed.
struct RejudgeProgress {
  int64_t rejudge = 0;
  RejudgeState state = RejudgeState::running;
  int done = 0;   // items regraded
  int total = 0;  // items in the set
  friend bool operator==(const RejudgeProgress&, const RejudgeProgress&) = default;
};

class ExamListener {
 public:
  virtual ~ExamListener() = default;
  virtual void on_progress(const ProgressNote&) {}
  virtual void on_finished(const store::SubmissionRecord&) {}
  // Every minute while running; `warning` is set once when 30, 10 and 1
  // minutes are left.
  virtual void on_timer(const store::SessionRecord&, double /*remaining_s*/, std::optional<int> /*warning*/) {}
  // The session closed at its deadline, or was stopped (see its state).
  virtual void on_closed(const store::SessionRecord&) {}
  virtual void on_rejudge(const RejudgeProgress&) {}
  virtual void on_diagnostics(const std::string& /*session*/, const std::string& /*task*/,
                              const std::filesystem::path& /*file*/, const std::vector<Diagnostic>&) {}
};

}  // namespace torchexam
