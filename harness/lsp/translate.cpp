#include "lsp/translate.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <sstream>

namespace torchexam::lsp {
namespace {

Severity severity_of(const std::string& s) {
  if (s == "warning") return Severity::warning;
  if (s == "note") return Severity::information;
  return Severity::error;  // error, fatal error, anything new
}

// A whole line, 0-based.
Range line_range(int line0) { return {{std::max(line0, 0), 0}, {std::max(line0, 0) + 1, 0}}; }

// The 0-based line of the first line of `source` containing any of `needles`.
std::optional<int> find_line(std::string_view source, std::initializer_list<std::string_view> needles) {
  for (std::string_view needle : needles) {
    std::istringstream in{std::string(source)};
    std::string line;
    for (int n = 0; std::getline(in, line); ++n)
      if (line.find(needle) != std::string::npos) return n;
  }
  return std::nullopt;
}

std::string with_detail(const protocol::Submission& s) {
  return s.detail.empty() ? s.message : s.message + "\n" + s.detail;
}

}  // namespace

const TaskSummary* find_task(const protocol::ExamStatus& st, const std::string& id) {
  for (const auto& t : st.tasks)
    if (t.id == id) return &t;
  return nullptr;
}

const TaskSummary* task_of(const protocol::ExamStatus& st, const std::filesystem::path& file) {
  const auto parent = file.lexically_normal().parent_path();
  for (const auto& t : st.tasks)
    if (t.folder.lexically_normal() == parent) return &t;
  return nullptr;
}

Diagnostic to_lsp(const torchexam::Diagnostic& d, std::string code) {
  Diagnostic out;
  const int line = d.line > 0 ? d.line - 1 : 0;
  const int col = d.column > 0 ? d.column - 1 : 0;
  out.range = d.column > 0 ? Range{{line, col}, {line, col + 1}} : line_range(line);
  out.severity = severity_of(d.severity);
  out.code = std::move(code);
  out.message = d.message;
  return out;
}

std::vector<Diagnostic> to_lsp(const std::vector<torchexam::Diagnostic>& ds, const std::string& code) {
  std::vector<Diagnostic> out;
  for (const auto& d : ds) out.push_back(to_lsp(d, code));
  return out;
}

std::vector<Diagnostic> submission_diagnostics(const protocol::Submission& s, std::string_view source) {
  std::vector<Diagnostic> out;
  if (s.verdict == "compile_error") {
    for (const auto& d : s.result ? s.result->grade.diagnostics : std::vector<torchexam::Diagnostic>{}) {
      // The compiler also reports lines of headers; keep the candidate's file.
      if (d.line > 0 && std::filesystem::path(d.file).filename() != s.file) continue;
      out.push_back(to_lsp(d, "compile_error"));
    }
    if (out.empty()) out.push_back({line_range(0), Severity::error, "torchexam", "compile_error", s.message});
  } else if (s.verdict == "contract") {
    const int line = find_line(source, {"TORCH_MODULE(", "torch::nn::Module", "TORCHEXAM_SOLUTION("}).value_or(0);
    out.push_back({line_range(line), Severity::error, "torchexam", "contract", with_detail(s)});
  } else if (s.verdict == "runtime_error") {
    std::optional<int> line;
    const std::string all = s.message + "\n" + s.detail;
    const std::string mark = s.file + ":";
    for (size_t at = all.find(mark); at != std::string::npos && !line; at = all.find(mark, at + 1)) {
      size_t end = at + mark.size();
      while (end < all.size() && std::isdigit(static_cast<unsigned char>(all[end]))) ++end;
      if (end > at + mark.size() && end - at - mark.size() < 7) line = std::stoi(all.substr(at + mark.size())) - 1;
    }
    if (!line) line = find_line(source, {"void train(", "TORCHEXAM_SOLUTION("});
    out.push_back({line_range(line.value_or(0)), Severity::error, "torchexam", "runtime_error", with_detail(s)});
  }
  return out;
}

std::string lens_title(const TaskSummary& t) {
  if (t.last_verdict.empty()) return fmt::format("best {}/5 · not submitted yet", t.best_score);
  return fmt::format("best {}/5 · last: {}", t.best_score, t.last_verdict);
}

std::string progress_message(const ProgressNote& n) {
  switch (n.stage) {
    case Stage::queued: return fmt::format("queued (position {})", n.queue_position);
    case Stage::stage: return "preparing the task's data";
    case Stage::build: return "building";
    case Stage::evaluate: return "evaluating on the hidden test data";
    case Stage::score: return "scoring";
    case Stage::train: break;
  }
  if (!n.progress) return "training";
  const auto& p = *n.progress;
  std::string s = fmt::format("training: epoch {}/{}", p.epoch, p.epochs);
  if (p.batches > 0) s += fmt::format(" · batch {}/{}", p.batch, p.batches);
  if (std::isfinite(p.loss)) s += fmt::format(" · loss {:.4f}", p.loss);
  if (p.eta_s >= 0) s += " · ETA " + remaining_text(p.eta_s);
  return s;
}

std::optional<int> progress_percentage(const ProgressNote& n) {
  switch (n.stage) {
    case Stage::queued: return std::nullopt;
    case Stage::stage: return 0;  // staging the data comes before the build
    case Stage::build: return 0;
    case Stage::evaluate: return 90;
    case Stage::score: return 95;
    case Stage::train: break;
  }
  if (!n.progress || n.progress->epochs <= 0) return 10;
  const auto& p = *n.progress;
  double epoch_part = p.batches > 0 ? static_cast<double>(p.batch) / static_cast<double>(p.batches) : 1.0;
  if (p.kind == events::Progress::Kind::epoch) epoch_part = 1.0;
  const double done = (std::max(p.epoch, 1) - 1 + std::clamp(epoch_part, 0.0, 1.0)) / p.epochs;
  return 10 + static_cast<int>(std::lround(80 * std::clamp(done, 0.0, 1.0)));
}

std::string finished_message(const protocol::Finished& f) {
  if (f.state == SubmissionState::cancelled) return fmt::format("{}: submission {} was cancelled", f.task, f.submission);
  return fmt::format("{}: {}/5 ({}) — {}", f.task, f.score, f.verdict.value_or(""), f.message);
}

MessageType finished_type(const protocol::Finished& f) {
  if (f.verdict == "ok") return MessageType::info;
  if (f.verdict == "internal_error") return MessageType::error;
  return MessageType::warning;
}

std::string history_markdown(const std::string& task, const std::vector<protocol::SubmissionInfo>& submissions) {
  std::string out =
      fmt::format("# {}: submissions\n\n| id | state | verdict | score | message |\n|---|---|---|---|---|\n", task);
  for (const auto& s : submissions) {
    std::string message = s.message;
    for (auto& c : message)
      if (c == '|' || c == '\n') c = ' ';  // one table row
    out += fmt::format("| {} | {} | {} | {}/5 | {} |\n", s.submission, to_string(s.state), s.verdict.value_or("-"), s.score,
                       message);
  }
  return out;
}

std::string remaining_text(double seconds) {
  const long long s = std::max(0LL, std::llround(seconds));
  if (s >= 3600) return fmt::format("{}h {:02}m", s / 3600, s % 3600 / 60);
  if (s >= 60) return fmt::format("{}m {:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace torchexam::lsp
