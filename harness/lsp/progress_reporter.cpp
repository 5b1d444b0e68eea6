#include "lsp/progress_reporter.hpp"

#include "lsp/translate.hpp"

#include <fmt/format.h>

namespace torchexam::lsp {

std::string ProgressReporter::token(int64_t id) { return fmt::format("torchexam/submission/{}", id); }

void ProgressReporter::log(const std::string& line) {
  editor_.notify("window/logMessage", show_message(MessageType::info, "torchexam: " + line));
}

void ProgressReporter::update(const ProgressNote& p) {
  auto [it, fresh] = items_.try_emplace(p.submission);
  Item& item = it->second;
  if (item.state == State::done) return;
  item.title = fmt::format("Grading {} (submission {})", p.task, p.submission);
  item.message = progress_message(p);
  if (auto pct = progress_percentage(p)) item.percentage = pct;
  if (fresh) {
    if (!work_done_) {
      item.state = State::logging;
    } else {
      const int64_t id = p.submission;
      editor_.request("window/workDoneProgress/create", json::object{{"token", token(id)}}, [this, id](Result r) {
        auto found = items_.find(id);
        if (found == items_.end()) return;
        if (std::holds_alternative<protocol::RpcError>(r)) {
          found->second.state = State::logging;  // refused: fall back to the log
          log(found->second.title + ": " + found->second.message);
          if (found->second.end_message) log(found->second.title + ": " + *found->second.end_message);
          return;
        }
        begin(id);
      });
    }
  }
  if (item.state == State::logging) {
    // A line per stage, and one per finished epoch; batches only in the progress UI.
    const std::string key =
        p.progress && p.progress->kind == events::Progress::Kind::epoch ? item.message : std::string(to_string(p.stage));
    if (key != item.last_logged) {
      item.last_logged = key;
      log(item.title + ": " + item.message);
    }
  } else if (item.state == State::active) {
    json::object value{{"kind", "report"}, {"message", item.message}};
    if (item.percentage) value["percentage"] = *item.percentage;
    editor_.notify("$/progress", json::object{{"token", token(p.submission)}, {"value", std::move(value)}});
  }
}

void ProgressReporter::begin(int64_t id) {
  Item& item = items_.at(id);
  item.state = State::active;
  json::object value{{"kind", "begin"}, {"title", item.title}, {"cancellable", false}, {"message", item.message}};
  if (item.percentage) value["percentage"] = *item.percentage;
  editor_.notify("$/progress", json::object{{"token", token(id)}, {"value", std::move(value)}});
  if (item.end_message) {
    editor_.notify("$/progress",
                   json::object{{"token", token(id)}, {"value", {{"kind", "end"}, {"message", *item.end_message}}}});
    item.state = State::done;
  }
}

void ProgressReporter::finish(const protocol::Finished& f) {
  auto it = items_.find(f.submission);
  if (it == items_.end()) return;  // never saw it start (submitted before we connected)
  Item& item = it->second;
  const std::string end = f.state == SubmissionState::cancelled ? "cancelled" : fmt::format("score {}/5 ({})", f.score, f.verdict.value_or(""));
  item.end_message = end;
  if (item.state == State::active) {
    editor_.notify("$/progress",
                   json::object{{"token", token(f.submission)}, {"value", {{"kind", "end"}, {"message", end}}}});
    item.state = State::done;
  } else if (item.state == State::logging) {
    log(item.title + ": " + end);
    item.state = State::done;
  }
  // creating: begin() sends begin and end once the client answers.
}

}  // namespace torchexam::lsp
