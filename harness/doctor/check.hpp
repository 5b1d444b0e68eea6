// doctor/check.hpp — the result of one environment check, as `torchexam
// doctor`, the daemon's `env/verify` and `exam/start` report it.
//
// Each check is a small function (checks.hpp) that looks at one thing and
// says what it found, what the environment expects, and, when it is not ok,
// the exact command or step that fixes it. `fail` means a required check
// failed (doctor exits 1; an exam-mode start is refused); `warn` is advice
// (slower training); `info` is a fact that needs nothing (a daemon that will
// start on demand).
#pragma once

#include <boost/json/value.hpp>
#include <boost/json/value_from.hpp>
#include <boost/json/value_to.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::doctor {

enum class Status { ok, info, warn, fail };
const char* to_string(Status s);
std::optional<Status> parse_status(std::string_view s);  // (json.cpp)

struct CheckResult {
  std::string name;  // "compiler", "data auto-mpg", "plugin fashion_mnist", ...
  Status status = Status::ok;
  std::string found;
  std::string expected;
  std::string fix;  // empty when ok
  friend bool operator==(const CheckResult&, const CheckResult&) = default;
};

// True when no result is `fail`.
bool passed(const std::vector<CheckResult>& results);

// "fail  data auto-mpg: found ...; expected ...; fix: ..." (one line).
std::string to_line(const CheckResult& r);

// {"name", "status", "found", "expected", "fix"}, both ways (json.cpp; a
// wrong shape is a json_shape::ShapeError naming the field).
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const CheckResult& r);
CheckResult tag_invoke(boost::json::value_to_tag<CheckResult>, const boost::json::value& v);

}  // namespace torchexam::doctor
