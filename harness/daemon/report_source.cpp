#include "daemon/report_source.hpp"

#include "exam/states.hpp"
#include "report/model.hpp"
#include "report/render.hpp"
#include "report/report_file.hpp"

#include <fmt/format.h>

#include <algorithm>

namespace torchexam::daemon {

std::vector<events::Progress> progress_events(const std::vector<std::string>& lines, size_t max_batch) {
  std::vector<events::Progress> all;
  size_t batches = 0;
  for (const auto& line : lines) {
    std::string error;
    const auto e = events::parse_line(line, &error);
    if (!e) continue;  // the store holds only lines the runner's reader accepted; skip anything else
    if (const auto* p = std::get_if<events::Progress>(&*e)) {
      all.push_back(*p);
      batches += p->kind == events::Progress::Kind::batch;
    }
  }
  if (batches <= max_batch || max_batch == 0) return all;
  // Keep batch note i when it ends one of max_batch equal slices: exactly
  // max_batch of them, the last batch note among them.
  std::vector<events::Progress> kept;
  size_t i = 0;
  for (size_t k = 0; k < all.size(); ++k) {
    if (all[k].kind == events::Progress::Kind::epoch) {
      kept.push_back(all[k]);
      continue;
    }
    const bool last_of_slice = ((i + 1) * max_batch) / batches != (i * max_batch) / batches;
    if (last_of_slice) kept.push_back(all[k]);
    ++i;
  }
  return kept;
}

protocol::ReportData report_data(const ExamService& service, const std::string& session, const std::string& task,
                                 int64_t submission) {
  protocol::ReportData d;
  std::vector<store::SubmissionRecord> details;
  std::string sid = session;
  if (submission != 0) {
    store::SubmissionRecord r = service.submission(submission);  // ServiceError(not_found) when there is none
    sid = r.session_id;
    d.scope = "submission";
    d.history.push_back(protocol::submission_info(r, service.queue_position(r.id), service.judgings(r)));
    details.push_back(std::move(r));
  }
  d.status = protocol::exam_status(service.status(sid));
  if (submission == 0) {
    if (!task.empty()) {
      const bool known = std::any_of(d.status.tasks.begin(), d.status.tasks.end(),
                                     [&](const TaskSummary& t) { return t.id == task; });
      if (!known) {
        std::string names;
        for (const auto& t : d.status.tasks) names += (names.empty() ? "" : ", ") + t.id;
        throw ServiceError(ServiceError::Kind::not_found,
                           fmt::format("no task '{}' in session {} (its tasks: {})", task, sid, names));
      }
    }
    d.scope = task.empty() ? "session" : "task";
    const auto history = service.history(sid, task);
    for (const auto& r : history)
      d.history.push_back(protocol::submission_info(r, service.queue_position(r.id), service.judgings(r)));
    if (!task.empty()) {
      for (const auto& r : history)
        if (state_of(r) == SubmissionState::finished) details.push_back(r);
    } else {
      for (const auto& t : d.status.tasks) {  // its best, else its newest finished
        const store::SubmissionRecord* pick = nullptr;
        for (const auto& r : history) {
          if (r.task != t.id || state_of(r) != SubmissionState::finished) continue;
          if (t.best_submission ? r.id == *t.best_submission : true) pick = &r;
        }
        if (pick) details.push_back(*pick);
      }
    }
  }
  // The service's records leave the task diagnostics out while the session
  // hides them (exam/report_visibility.hpp); the report says they are hidden.
  d.diagnostics_visible = service.diagnostics_shown(sid);
  for (const auto& r : details) {
    d.details.push_back(protocol::submission(r, service.queue_position(r.id), service.judgings(r)));
    d.progress.push_back({r.id, progress_events(service.submission_events(r.id), protocol::kReportMaxBatchEvents)});
  }
  return d;
}

std::filesystem::path write_session_report(const ExamService& service, const std::string& session) {
  const protocol::ReportData data = report_data(service, session, "", 0);
  const std::filesystem::path path = report::default_report_path(data.status.workspace, "", 0);
  report::write_report(path, report::render_html(report::build_report(data)));
  return path;
}

}  // namespace torchexam::daemon
