// daemon_view.hpp — what the language server reads from torchexamd, as typed
// structs: the exam summary (exam/status), a submission record
// (submission/get) and the five notifications (docs/protocol.md §4–§6).
//
// These are the client-side readers of shapes the daemon writes with
// protocol/messages.hpp. They are lenient (a missing or mistyped field keeps
// its default) because the daemon, not the user, wrote them; numbers are read
// in any spelling (the daemon writes doubles as 6E2).
#pragma once

#include <boost/json.hpp>

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::lsp::daemon_view {
namespace json = boost::json;

struct Diagnostic {
  std::string severity;  // error, warning, note, fatal error
  std::string file;
  int line = 0;    // 1-based; 0 unknown
  int column = 0;  // 1-based; 0 unknown
  std::string message;
};

struct Task {
  std::string id, title;
  std::filesystem::path folder;
  int best_score = 0;
  std::string last_verdict;  // "" before the first finished submission
  int submissions = 0;
  std::vector<Diagnostic> diagnostics;  // last syntax check
};

struct ExamStatus {
  std::string session, mode, state;
  std::filesystem::path workspace;
  double remaining_s = 0;
  int64_t deadline_ms = 0;
  std::vector<Task> tasks;
  int total_score = 0, pass_mark = 0;
  const Task* task(const std::string& id) const;
  // The task whose folder holds `file`, if any.
  const Task* task_of(const std::filesystem::path& file) const;
};

struct Submission {  // submission/get
  int64_t id = 0;
  std::string session, task, file, state, verdict, message, detail;
  std::optional<double> metric;
  int score = 0;
  std::vector<Diagnostic> diagnostics;  // result.diagnostics: the compiler's
};

struct Progress {  // submission/progress
  std::string session, task, stage;
  int64_t submission = 0;
  int queue_position = 0;
  bool has_training = false;  // the runner's fields below are present
  std::string kind;           // batch or epoch
  int epoch = 0, epochs = 0;
  int64_t batch = 0, batches = 0;
  std::optional<double> loss;
  double eta_s = -1;
};

struct Finished {  // submission/finished
  std::string session, task, state, verdict, message;
  int64_t submission = 0;
  std::optional<double> metric;
  int score = 0;
};

struct Timer {  // exam/timer
  std::string session;
  double remaining_s = 0;
  std::optional<int> warning_minutes;
};

struct Closed {  // exam/closed
  std::string session;
  int64_t closed_at_ms = 0;
};

struct SyntaxCheck {  // workspace/diagnostics
  std::string session, task;
  std::filesystem::path file;
  std::vector<Diagnostic> diagnostics;
};

ExamStatus exam_status(const json::value& v);
Submission submission(const json::value& v);
Progress progress(const json::value& v);
Finished finished(const json::value& v);
Timer timer(const json::value& v);
Closed closed(const json::value& v);
SyntaxCheck syntax_check(const json::value& v);

}  // namespace torchexam::lsp::daemon_view
