#include "exam/report_visibility.hpp"

#include <boost/json.hpp>

namespace torchexam {

bool diagnostics_visible(const config::Environment& env, SessionMode mode, bool closed) {
  using Shown = config::Report::Diagnostics;
  if (env.report.diagnostics) return *env.report.diagnostics == Shown::full;
  return mode == SessionMode::practice || closed;
}

bool diagnostics_visible(const config::Environment& env, const store::SessionRecord& session) {
  return diagnostics_visible(env, mode_of(session), !is_open(state_of(session)));
}

namespace {

void drop_task_diagnostics(std::string& result_json) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(result_json, ec);
  if (ec || !v.is_object()) return;
  if (v.get_object().erase("task_diagnostics") != 0) result_json = boost::json::serialize(v);
}

}  // namespace

store::SubmissionRecord without_task_diagnostics(store::SubmissionRecord r) {
  drop_task_diagnostics(r.result_json);
  return r;
}

store::JudgingRecord without_task_diagnostics(store::JudgingRecord j) {
  drop_task_diagnostics(j.result_json);
  return j;
}

}  // namespace torchexam
