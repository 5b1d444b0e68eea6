#include "grading/grade_json.hpp"

#include "base/json_shape.hpp"
#include "sandbox/text.hpp"

namespace torchexam {
namespace json = boost::json;
using json_shape::Object;
using json_shape::ShapeError;
using json_shape::write;

void tag_invoke(json::value_from_tag, json::value& v, const Diagnostic& d) {
  v = json::object{{"severity", d.severity},
                   {"file", to_valid_utf8(d.file)},
                   {"line", d.line},
                   {"column", d.column},
                   {"message", to_valid_utf8(d.message)}};
}

Diagnostic tag_invoke(json::value_to_tag<Diagnostic>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("severity"), o.required<std::string>("file"), o.required<int>("line"),
          o.required<int>("column"), o.required<std::string>("message")};
}

void tag_invoke(json::value_from_tag, json::value& v, const OutputLog& o) {
  v = json::object{{"phase", o.phase}, {"path", to_valid_utf8(o.path.string())}, {"bytes", o.bytes}};
}

OutputLog tag_invoke(json::value_to_tag<OutputLog>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("phase"), o.required<std::filesystem::path>("path"), o.required<uint64_t>("bytes")};
}

void tag_invoke(json::value_from_tag, json::value& v, const GradeResult& r) {
  // Every string as valid UTF-8: they hold what a job or a compiler said.
  const std::vector<std::string> log = to_valid_utf8(r.log);
  v = json::object{
      {"verdict", to_string(r.verdict)},
      {"score", r.score},
      {"metric_name", r.metric_name},
      {"metric", write(r.metric)},
      {"message", to_valid_utf8(r.message)},
      {"detail", to_valid_utf8(r.detail)},
      {"diagnostics", write(r.diagnostics)},
      {"build_cached", r.build_cached},
      {"stage_cached", r.stage_cached},
      {"job_dir", to_valid_utf8(r.job_dir.string())},
      {"backend", r.backend},
      {"train_cpu_s", write(r.used.cpu_s)},
      {"train_max_rss_kb", r.used.max_rss_kb},
      {"timings",
       {{"stage_s", write(r.timings.stage_s)},
        {"build_s", write(r.timings.build_s)},
        {"train_s", write(r.timings.train_s)},
        {"evaluate_s", write(r.timings.evaluate_s)},
        {"score_s", write(r.timings.score_s)},
        {"total_s", write(r.timings.total_s)}}},
      {"peak_memory_bytes", r.used.peak_memory_bytes},
      {"sandbox", {{"layers", write(r.sandbox.layers)}, {"notes", write(r.sandbox.notes)}}},
      {"limits",
       {{"wall_s", write(r.sandbox.limits.wall_s)},
        {"cpu_s", write(r.sandbox.limits.cpu_s)},
        {"memory_bytes", r.sandbox.limits.memory_bytes},
        {"max_pids", r.sandbox.limits.max_pids}}},
      {"log", write(log)},
      {"output", write(r.output)},
  };
  if (r.task_diagnostics) v.get_object()["task_diagnostics"] = write(*r.task_diagnostics);
  if (r.fingerprint) v.get_object()["fingerprint"] = write(*r.fingerprint);
}

namespace {

// An object inside the result ("timings", "sandbox", "limits"); absent: {}.
template <class F>
void inner(const Object& o, const char* key, F read) {
  static const json::value empty = json::object();
  const json::value* v = o.fields().if_contains(key);
  try {
    read(Object(v && !v->is_null() ? *v : empty));
  } catch (const ShapeError& e) {
    throw e.within(std::string(".") + key);
  }
}

double real_or(const Object& o, const char* key, double fallback) {
  return o.has(key) ? o.real(key) : fallback;
}

}  // namespace

GradeResult tag_invoke(json::value_to_tag<GradeResult>, const json::value& v) {
  const Object o(v);
  GradeResult r;
  const auto verdict = parse_verdict(o.required<std::string>("verdict"));
  if (!verdict) throw ShapeError(".verdict", "expected a verdict (ok, compile_error, runtime_error, ...)");
  r.verdict = *verdict;
  r.score = o.optional<int>("score");
  r.metric_name = o.optional<std::string>("metric_name");
  r.metric = o.optional<std::optional<double>>("metric");
  r.message = o.optional<std::string>("message");
  r.detail = o.optional<std::string>("detail");
  r.diagnostics = o.optional<std::vector<Diagnostic>>("diagnostics");
  r.build_cached = o.optional<bool>("build_cached");
  r.stage_cached = o.optional<bool>("stage_cached");
  r.job_dir = o.optional<std::filesystem::path>("job_dir");
  r.backend = o.optional<std::string>("backend");
  r.used.cpu_s = real_or(o, "train_cpu_s", 0);
  r.used.max_rss_kb = o.optional<long long>("train_max_rss_kb");
  inner(o, "timings", [&](const Object& t) {
    r.timings = {real_or(t, "stage_s", 0), real_or(t, "build_s", 0),    real_or(t, "train_s", 0),
                 real_or(t, "evaluate_s", 0), real_or(t, "score_s", 0), real_or(t, "total_s", 0)};
  });
  r.used.peak_memory_bytes = o.optional<uint64_t>("peak_memory_bytes");
  inner(o, "sandbox", [&](const Object& s) {
    r.sandbox.layers = s.optional<std::vector<std::string>>("layers");
    r.sandbox.notes = s.optional<std::vector<std::string>>("notes");
  });
  inner(o, "limits", [&](const Object& l) {
    r.sandbox.limits = {real_or(l, "wall_s", 0), real_or(l, "cpu_s", 0), l.optional<uint64_t>("memory_bytes"),
                        l.optional<uint64_t>("max_pids")};
  });
  r.log = o.optional<std::vector<std::string>>("log");
  r.output = o.optional<std::vector<OutputLog>>("output");
  r.task_diagnostics = o.optional<std::optional<TaskDiagnostics>>("task_diagnostics");
  r.fingerprint = o.optional<std::optional<Fingerprint>>("fingerprint");
  return r;
}

void tag_invoke(json::value_from_tag, json::value& v, const GradeRecord& r) {
  v = json::value_from(r.grade);
  v.get_object()["artifacts"] = write(r.artifacts);
}

GradeRecord tag_invoke(json::value_to_tag<GradeRecord>, const json::value& v) {
  const Object o(v);
  return {json::value_to<GradeResult>(v), o.optional<std::map<std::string, std::string>>("artifacts")};
}

std::optional<Fingerprint> stored_fingerprint(std::string_view result_json) {
  boost::system::error_code ec;
  const json::value v = json::parse(result_json, ec);
  if (ec || !v.is_object()) return std::nullopt;
  const json::value* f = v.get_object().if_contains("fingerprint");
  if (!f || f->is_null()) return std::nullopt;
  try {
    return json::value_to<Fingerprint>(*f);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

CurvePoint curve_point(const events::Progress& p) { return {p.epoch, p.loss, p.elapsed_s, p.metrics}; }

void tag_invoke(json::value_from_tag, json::value& v, const CurvePoint& p) {
  json::object o{{"epoch", p.epoch}, {"loss", write(p.loss)}, {"elapsed_s", write(p.elapsed_s)}};
  for (const auto& [k, x] : p.metrics) o[k] = write(x);
  v = std::move(o);
}

CurvePoint tag_invoke(json::value_to_tag<CurvePoint>, const json::value& v) {
  const Object o(v);
  return {o.required<int>("epoch"), o.real("loss"), o.real("elapsed_s"),
          json_shape::read_reals(o, {"epoch", "loss", "elapsed_s"})};
}

}  // namespace torchexam
