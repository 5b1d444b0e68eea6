// report_source.hpp — what report/data answers, read from the exam service,
// and the session report the daemon writes at an exam's close.
//
// report_data(): the session's summary; the submissions in scope (one, a
// task's, or the session's); the ones to draw in full (the one asked for;
// every finished one of the task; per task its best, else its newest
// finished); their progress events read back from the store, batch notes
// thinned evenly to protocol::kReportMaxBatchEvents. The service's records
// come without task diagnostics while the session hides them
// (exam/report_visibility.hpp); diagnostics_visible says so to the report.
// Throws ServiceError(not_found) for an unknown submission or task.
//
// write_session_report(): the session's report as HTML at
// report::default_report_path(<workspace>) (torchexam-report.html); returns
// its path. Throws std::runtime_error naming the path when it cannot write.
//
// Threads: the io thread (the service's).
#pragma once

#include "exam/exam_service.hpp"
#include "protocol/messages.hpp"

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::daemon {

protocol::ReportData report_data(const ExamService& service, const std::string& session, const std::string& task,
                                 int64_t submission);
std::filesystem::path write_session_report(const ExamService& service, const std::string& session);

// The progress events among a submission's stored event lines, batch notes
// thinned to at most `max_batch` (every epoch note kept).
std::vector<events::Progress> progress_events(const std::vector<std::string>& lines, size_t max_batch);

}  // namespace torchexam::daemon
