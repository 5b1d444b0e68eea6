#include "report/report_file.hpp"

#include "base/hash.hpp"

#include <stdexcept>

namespace torchexam::report {

std::filesystem::path default_report_path(const std::filesystem::path& workspace, const std::string& task,
                                          int64_t submission, bool json) {
  std::string name = "torchexam-report";
  if (submission != 0) name += "-" + std::to_string(submission);
  else if (!task.empty()) name += "-" + task;
  return workspace / (name + (json ? ".json" : ".html"));
}

void write_report(const std::filesystem::path& path, std::string_view content) {
  try {
    if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path());
    write_file_atomically(path, content, Durability::synced);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot write the report to " + path.string() + ": " + e.what() +
                             " (check that folder exists and is writable)");
  }
}

}  // namespace torchexam::report
