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

store::SubmissionRecord without_task_diagnostics(store::SubmissionRecord r) {
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(r.result_json, ec);
  if (ec || !v.is_object()) return r;
  if (v.get_object().erase("task_diagnostics") != 0) r.result_json = boost::json::serialize(v);
  return r;
}

}  // namespace torchexam
