#include "lsp/daemon_view.hpp"

namespace torchexam::lsp::daemon_view {
namespace {

const json::value* field(const json::value& v, const char* key) {
  const auto* o = v.if_object();
  if (!o) return nullptr;
  const auto* f = o->if_contains(key);
  return f && !f->is_null() ? f : nullptr;
}

std::string text(const json::value& v, const char* key) {
  const auto* f = field(v, key);
  return f && f->is_string() ? std::string(f->get_string()) : std::string();
}

std::optional<double> number(const json::value& v, const char* key) {
  const auto* f = field(v, key);
  if (!f || !f->is_number()) return std::nullopt;
  return f->to_number<double>();
}

int64_t integer(const json::value& v, const char* key, int64_t fallback = 0) {
  auto n = number(v, key);
  return n ? static_cast<int64_t>(*n) : fallback;
}

const json::array& array(const json::value& v, const char* key) {
  static const json::array empty;
  const auto* f = field(v, key);
  return f && f->is_array() ? f->get_array() : empty;
}

std::vector<Diagnostic> diagnostics(const json::array& a) {
  std::vector<Diagnostic> out;
  for (const auto& d : a)
    out.push_back({text(d, "severity"), text(d, "file"), static_cast<int>(integer(d, "line")),
                   static_cast<int>(integer(d, "column")), text(d, "message")});
  return out;
}

}  // namespace

const Task* ExamStatus::task(const std::string& id) const {
  for (const auto& t : tasks)
    if (t.id == id) return &t;
  return nullptr;
}

const Task* ExamStatus::task_of(const std::filesystem::path& file) const {
  const auto parent = file.lexically_normal().parent_path();
  for (const auto& t : tasks)
    if (t.folder.lexically_normal() == parent) return &t;
  return nullptr;
}

ExamStatus exam_status(const json::value& v) {
  ExamStatus s;
  s.session = text(v, "session");
  s.mode = text(v, "mode");
  s.state = text(v, "state");
  s.workspace = text(v, "workspace");
  s.remaining_s = number(v, "remaining_s").value_or(0);
  s.deadline_ms = integer(v, "deadline_ms");
  s.total_score = static_cast<int>(integer(v, "total_score"));
  s.pass_mark = static_cast<int>(integer(v, "pass_mark"));
  for (const auto& t : array(v, "tasks"))
    s.tasks.push_back({text(t, "id"), text(t, "title"), text(t, "folder"), static_cast<int>(integer(t, "best_score")),
                       text(t, "last_verdict"), static_cast<int>(integer(t, "submissions")),
                       diagnostics(array(t, "diagnostics"))});
  return s;
}

Submission submission(const json::value& v) {
  Submission s;
  s.id = integer(v, "submission");
  s.session = text(v, "session");
  s.task = text(v, "task");
  s.file = text(v, "file");
  s.state = text(v, "state");
  s.verdict = text(v, "verdict");
  s.message = text(v, "message");
  s.detail = text(v, "detail");
  s.metric = number(v, "metric");
  s.score = static_cast<int>(integer(v, "score"));
  if (const auto* result = field(v, "result")) s.diagnostics = diagnostics(array(*result, "diagnostics"));
  return s;
}

Progress progress(const json::value& v) {
  Progress p;
  p.session = text(v, "session");
  p.task = text(v, "task");
  p.stage = text(v, "stage");
  p.submission = integer(v, "submission");
  p.queue_position = static_cast<int>(integer(v, "queue_position"));
  p.has_training = field(v, "epoch") != nullptr;
  p.kind = text(v, "kind");
  p.epoch = static_cast<int>(integer(v, "epoch"));
  p.epochs = static_cast<int>(integer(v, "epochs"));
  p.batch = integer(v, "batch");
  p.batches = integer(v, "batches");
  p.loss = number(v, "loss");
  p.eta_s = number(v, "eta_s").value_or(-1);
  return p;
}

Finished finished(const json::value& v) {
  Finished f;
  f.session = text(v, "session");
  f.task = text(v, "task");
  f.state = text(v, "state");
  f.verdict = text(v, "verdict");
  f.message = text(v, "message");
  f.submission = integer(v, "submission");
  f.metric = number(v, "metric");
  f.score = static_cast<int>(integer(v, "score"));
  return f;
}

Timer timer(const json::value& v) {
  Timer t{text(v, "session"), number(v, "remaining_s").value_or(0), std::nullopt};
  if (auto w = number(v, "warning_minutes")) t.warning_minutes = static_cast<int>(*w);
  return t;
}

Closed closed(const json::value& v) { return {text(v, "session"), integer(v, "closed_at_ms")}; }

SyntaxCheck syntax_check(const json::value& v) {
  return {text(v, "session"), text(v, "task"), text(v, "file"), diagnostics(array(v, "diagnostics"))};
}

}  // namespace torchexam::lsp::daemon_view
