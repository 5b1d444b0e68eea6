#include "grading/grade_json.hpp"

#include "sandbox/text.hpp"

#include <cmath>

namespace torchexam {
namespace json = boost::json;

json::array to_json(const std::vector<Diagnostic>& diagnostics) {
  json::array out;
  for (const auto& d : diagnostics)
    out.push_back({{"severity", d.severity}, {"file", to_valid_utf8(d.file)}, {"line", d.line}, {"column", d.column},
                   {"message", to_valid_utf8(d.message)}});
  return out;
}

json::object to_json(const GradeResult& r) {
  json::array log, layers, notes;
  // Every string as valid UTF-8: they hold what a job or a compiler said.
  for (const auto& l : r.log) log.push_back(json::value(to_valid_utf8(l)));
  for (const auto& l : r.sandbox_layers) layers.push_back(json::value(l));
  for (const auto& n : r.sandbox_notes) notes.push_back(json::value(n));
  json::array output;
  for (const auto& o : r.output)
    output.push_back({{"phase", o.phase}, {"path", to_valid_utf8(o.path.string())}, {"bytes", o.bytes}});
  return {
      {"verdict", to_string(r.verdict)},
      {"score", r.score},
      {"metric_name", r.metric_name},
      {"metric", r.metric && std::isfinite(*r.metric) ? json::value(*r.metric) : json::value(nullptr)},
      {"message", to_valid_utf8(r.message)},
      {"detail", to_valid_utf8(r.detail)},
      {"diagnostics", to_json(r.diagnostics)},
      {"build_cached", r.build_cached},
      {"stage_cached", r.stage_cached},
      {"job_dir", to_valid_utf8(r.job_dir.string())},
      {"backend", r.backend},
      {"train_cpu_s", r.train_cpu_s},
      {"train_max_rss_kb", r.train_max_rss_kb},
      {"timings",
       {{"stage_s", r.timings.stage_s},
        {"build_s", r.timings.build_s},
        {"train_s", r.timings.train_s},
        {"evaluate_s", r.timings.evaluate_s},
        {"score_s", r.timings.score_s},
        {"total_s", r.timings.total_s}}},
      {"peak_memory_bytes", r.peak_memory_bytes},
      {"sandbox", {{"layers", std::move(layers)}, {"notes", std::move(notes)}}},
      {"limits",
       {{"wall_s", r.limits.wall_s},
        {"cpu_s", r.limits.cpu_s},
        {"memory_bytes", r.limits.memory_bytes},
        {"max_pids", r.limits.max_pids}}},
      {"log", std::move(log)},
      {"output", std::move(output)},
  };
}

}  // namespace torchexam
