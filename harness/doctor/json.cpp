// JSON of checks and forecasts: for `torchexam doctor --json`, the stored
// forecast and the protocol (which links only this, not the checks).
#include "doctor/check.hpp"
#include "doctor/forecast.hpp"

#include <boost/json.hpp>

namespace torchexam::doctor {
namespace json = boost::json;

json::value to_json(const CheckResult& r) {
  return json::object{
      {"name", r.name}, {"status", to_string(r.status)}, {"found", r.found}, {"expected", r.expected}, {"fix", r.fix}};
}

json::value to_json(const Forecast& f) {
  return json::object{{"task", f.task},
                      {"samples_per_s", f.samples_per_s},
                      {"reference_s", f.reference_s},
                      {"measured_s", f.measured_s},
                      {"finished", f.finished},
                      {"budget_s", f.budget_s},
                      {"exam_s", f.exam_s},
                      {"threads", f.threads},
                      {"measured_at_ms", f.measured_at_ms},
                      {"load_before", f.load_before},
                      {"steal", f.steal},
                      {"cpus", f.cpus},
                      {"busy", f.busy()},
                      {"error", f.error}};
}

std::optional<Forecast> forecast_from_json(const json::value& v) {
  if (!v.is_object()) return std::nullopt;
  const auto& o = v.get_object();
  Forecast f;
  auto number = [&](const char* key, double& out) {
    if (const auto* x = o.if_contains(key); x && x->is_number()) out = x->to_number<double>();
  };
  const auto* task = o.if_contains("task");
  if (!task || !task->is_string()) return std::nullopt;
  f.task = task->get_string();
  number("samples_per_s", f.samples_per_s);
  number("reference_s", f.reference_s);
  number("measured_s", f.measured_s);
  number("budget_s", f.budget_s);
  number("exam_s", f.exam_s);
  number("load_before", f.load_before);
  number("steal", f.steal);
  double threads = 0, at = 0, cpus = 0;
  number("cpus", cpus);
  f.cpus = static_cast<int>(cpus);
  number("threads", threads);
  number("measured_at_ms", at);
  f.threads = static_cast<int>(threads);
  f.measured_at_ms = static_cast<int64_t>(at);
  if (const auto* x = o.if_contains("finished"); x && x->is_bool()) f.finished = x->get_bool();
  if (const auto* x = o.if_contains("error"); x && x->is_string()) f.error = x->get_string();
  return f;
}

}  // namespace torchexam::doctor
