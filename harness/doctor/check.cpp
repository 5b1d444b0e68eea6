#include "doctor/check.hpp"

#include <algorithm>
#include <string_view>

namespace torchexam::doctor {

const char* to_string(Status s) {
  switch (s) {
    case Status::ok:
      return "ok";
    case Status::info:
      return "info";
    case Status::warn:
      return "warn";
    case Status::fail:
      return "fail";
  }
  return "fail";
}

bool passed(const std::vector<CheckResult>& results) {
  return std::none_of(results.begin(), results.end(), [](const CheckResult& r) { return r.status == Status::fail; });
}

std::string to_line(const CheckResult& r) {
  std::string line =
      std::string(to_string(r.status)) + std::string(6 - std::string_view(to_string(r.status)).size(), ' ') + r.name +
      ": " + r.found;
  if (!r.expected.empty()) line += "; expected " + r.expected;
  if (!r.fix.empty()) line += "; fix: " + r.fix;
  return line;
}

}  // namespace torchexam::doctor
