// JSON of checks and forecasts, both ways, and of the doctor's report: for
// `torchexam doctor --json`, the stored forecast and the protocol (which
// links only this, not the checks). Reading goes through
// base/json_shape.hpp: a wrong type is a ShapeError naming the field.
// Strings a probe or a path brought in are written as valid UTF-8.
#include "base/json_shape.hpp"
#include "doctor/check.hpp"
#include "doctor/doctor.hpp"
#include "doctor/forecast.hpp"
#include "sandbox/text.hpp"

namespace torchexam::doctor {
namespace json = boost::json;
using json_shape::Object;
using json_shape::write;

std::optional<Status> parse_status(std::string_view s) {
  for (Status x : {Status::ok, Status::info, Status::warn, Status::fail})
    if (s == to_string(x)) return x;
  return std::nullopt;
}

void tag_invoke(json::value_from_tag, json::value& v, const CheckResult& r) {
  v = json::object{{"name", to_valid_utf8(r.name)},
                   {"status", to_string(r.status)},
                   {"found", to_valid_utf8(r.found)},
                   {"expected", to_valid_utf8(r.expected)},
                   {"fix", to_valid_utf8(r.fix)}};
}

CheckResult tag_invoke(json::value_to_tag<CheckResult>, const json::value& v) {
  const Object o(v);
  CheckResult r;
  r.name = o.required<std::string>("name");
  const auto status = parse_status(o.required<std::string>("status"));
  if (!status) throw json_shape::ShapeError(".status", "expected ok, info, warn or fail");
  r.status = *status;
  r.found = o.optional<std::string>("found");
  r.expected = o.optional<std::string>("expected");
  r.fix = o.optional<std::string>("fix");
  return r;
}

namespace {

// A forecast's fields, with its verdict's after them when it has one (the
// doctor's report).
json::object forecast_object(const Forecast& f, const CheckResult* verdict) {
  json::object o{{"task", f.task},
                 {"samples_per_s", write(f.samples_per_s)},
                 {"reference_s", write(f.reference_s)},
                 {"measured_s", write(f.measured_s)},
                 {"finished", f.finished},
                 {"budget_s", write(f.budget_s)},
                 {"exam_s", write(f.exam_s)},
                 {"threads", f.threads},
                 {"measured_at_ms", f.measured_at_ms},
                 {"load_before", write(f.load_before)},
                 {"steal", write(f.steal)},
                 {"cpus", f.cpus},
                 {"busy", f.busy()},  // derived: never read back
                 {"error", to_valid_utf8(f.error)}};
  if (verdict) {
    o["status"] = to_string(verdict->status);
    o["found"] = to_valid_utf8(verdict->found);
    o["fix"] = to_valid_utf8(verdict->fix);
  }
  return o;
}

}  // namespace

void tag_invoke(json::value_from_tag, json::value& v, const Forecast& f) { v = forecast_object(f, nullptr); }

void tag_invoke(json::value_from_tag, json::value& v, const JudgedForecast& f) {
  v = forecast_object(f.forecast, &f.check);
}

void tag_invoke(json::value_from_tag, json::value& v, const Report& r) {
  v = json::object{{"environment", to_valid_utf8(r.environment)},
                   {"ok", r.ok},
                   {"checks", write(r.checks)},
                   {"forecasts", write(r.forecasts)}};
}

Forecast tag_invoke(json::value_to_tag<Forecast>, const json::value& v) {
  const Object o(v);
  Forecast f;
  f.task = o.required<std::string>("task");
  f.samples_per_s = o.optional<double>("samples_per_s");
  f.reference_s = o.optional<double>("reference_s");
  f.measured_s = o.optional<double>("measured_s");
  f.finished = o.optional<bool>("finished");
  f.budget_s = o.optional<double>("budget_s");
  f.exam_s = o.optional<double>("exam_s");
  f.threads = o.optional<int>("threads");
  f.measured_at_ms = o.optional<int64_t>("measured_at_ms");
  f.error = o.optional<std::string>("error");
  f.load_before = o.optional<double>("load_before");
  f.steal = o.optional<double>("steal");
  f.cpus = o.optional<int>("cpus");
  return f;
}

}  // namespace torchexam::doctor
