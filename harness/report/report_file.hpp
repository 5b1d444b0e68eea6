// report_file.hpp — where a report is written and how.
//
// default_report_path(): in the session's workspace,
//   torchexam-report.html               the session (also what the daemon writes at the close)
//   torchexam-report-<task>.html        every submission of a task
//   torchexam-report-<id>.html          one submission
// (".json" instead of ".html" for --json), so that it sits beside the task
// folders the candidate already knows, outside any of them (the workspace
// watcher checks only <task>/solution.cpp).
//
// write_report(): atomically and durably (store/durable_file.hpp): a reader,
// the VS Code webview say, never sees half a file. Throws std::runtime_error
// naming the path and the reason, with what to do.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace torchexam::report {

std::filesystem::path default_report_path(const std::filesystem::path& workspace, const std::string& task,
                                          int64_t submission, bool json = false);
void write_report(const std::filesystem::path& path, std::string_view content);

}  // namespace torchexam::report
