#include "grading/task_diagnostics.hpp"

#include "base/json_shape.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>

#include <fmt/format.h>

namespace torchexam {
namespace json = boost::json;
using json_shape::Object;
using json_shape::ShapeError;
using json_shape::write;

namespace {

// A list read from a diagnostic: at most kMaxDiagnosticValues entries.
template <class T>
std::vector<T> bounded(const Object& o, std::string_view key) {
  auto list = o.required<std::vector<T>>(key);
  if (list.size() > kMaxDiagnosticValues) {
    throw ShapeError("." + std::string(key),
                     fmt::format("{} entries, more than the {} a diagnostic may hold (aggregates only)", list.size(),
                                 kMaxDiagnosticValues));
  }
  return list;
}


}  // namespace

void tag_invoke(json::value_from_tag, json::value& v, const ClassFigures& x) {
  v = json::object{{"name", to_valid_utf8(x.name)},
                   {"precision", write(x.precision)},
                   {"recall", write(x.recall)},
                   {"f1", write(x.f1)},
                   {"support", x.support}};
}

ClassFigures tag_invoke(json::value_to_tag<ClassFigures>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("name"), o.required<double>("precision"), o.required<double>("recall"),
          o.required<double>("f1"), o.required<int64_t>("support")};
}

void tag_invoke(json::value_from_tag, json::value& v, const ClassificationDiagnostics& x) {
  v = json::object{{"accuracy", write(x.accuracy)},
                   {"classes", write(to_valid_utf8(x.classes))},
                   {"confusion", write(x.confusion)},
                   {"per_class", write(x.per_class)}};
}

ClassificationDiagnostics tag_invoke(json::value_to_tag<ClassificationDiagnostics>, const json::value& v) {
  const Object o(v);
  ClassificationDiagnostics d;
  d.accuracy = o.required<double>("accuracy");
  d.classes = bounded<std::string>(o, "classes");
  d.confusion = bounded<std::vector<int64_t>>(o, "confusion");
  d.per_class = bounded<ClassFigures>(o, "per_class");
  const std::size_t n = d.classes.size();
  if (d.confusion.size() != n) {
    throw ShapeError(".confusion", fmt::format("{} rows for {} classes (one row per true class)", d.confusion.size(), n));
  }
  for (std::size_t i = 0; i < n; ++i) {
    if (d.confusion[i].size() != n) {
      throw ShapeError(fmt::format(".confusion[{}]", i),
                       fmt::format("{} columns for {} classes (one per predicted class)", d.confusion[i].size(), n));
    }
  }
  if (d.per_class.size() != n) {
    throw ShapeError(".per_class", fmt::format("{} entries for {} classes", d.per_class.size(), n));
  }
  return d;
}

void tag_invoke(json::value_from_tag, json::value& v, const Histogram& x) {
  v = json::object{{"edges", write(x.edges)}, {"counts", write(x.counts)}};
}

Histogram tag_invoke(json::value_to_tag<Histogram>, const json::value& v) {
  const Object o(v);
  Histogram h{bounded<double>(o, "edges"), bounded<int64_t>(o, "counts")};
  if (h.edges.size() < 2 || h.counts.size() + 1 != h.edges.size()) {
    throw ShapeError(".counts", fmt::format("{} counts for {} edges (a histogram has one count fewer than edges, and "
                                            "at least two edges)",
                                            h.counts.size(), h.edges.size()));
  }
  for (std::size_t i = 1; i < h.edges.size(); ++i) {
    if (!(h.edges[i - 1] < h.edges[i])) throw ShapeError(fmt::format(".edges[{}]", i), "edges must ascend");
  }
  return h;
}

void tag_invoke(json::value_from_tag, json::value& v, const RangeError& x) {
  v = json::object{{"low", write(x.low)}, {"high", write(x.high)}, {"count", x.count}, {"mae", write(x.mae)}};
}

RangeError tag_invoke(json::value_to_tag<RangeError>, const json::value& v) {
  const Object o(v);
  return {o.required<double>("low"), o.required<double>("high"), o.required<int64_t>("count"),
          o.required<double>("mae")};
}

void tag_invoke(json::value_from_tag, json::value& v, const RegressionDiagnostics& x) {
  v = json::object{{"by_target_range", write(x.by_target_range)}, {"residuals", write(x.residuals)}};
}

RegressionDiagnostics tag_invoke(json::value_to_tag<RegressionDiagnostics>, const json::value& v) {
  const Object o(v);
  return {bounded<RangeError>(o, "by_target_range"), o.required<Histogram>("residuals")};
}

void tag_invoke(json::value_from_tag, json::value& v, const ForecastDiagnostics& x) {
  v = json::object{{"step_unit", to_valid_utf8(x.step_unit)},
                   {"mae_per_step", write(x.mae_per_step)},
                   {"residuals", write(x.residuals)}};
}

ForecastDiagnostics tag_invoke(json::value_to_tag<ForecastDiagnostics>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("step_unit"), bounded<double>(o, "mae_per_step"), o.required<Histogram>("residuals")};
}

void tag_invoke(json::value_from_tag, json::value& v, const TaskDiagnostics& x) {
  json::object o{{"kind", x.kind}};
  if (x.classification) o["classification"] = write(*x.classification);
  if (x.regression) o["regression"] = write(*x.regression);
  if (x.forecast) o["forecast"] = write(*x.forecast);
  v = std::move(o);
}

TaskDiagnostics tag_invoke(json::value_to_tag<TaskDiagnostics>, const json::value& v) {
  const Object o(v);
  o.only({"kind", "classification", "regression", "forecast"});
  TaskDiagnostics d;
  d.kind = o.required<std::string>("kind");
  if (d.kind == "classification") {
    d.classification = o.required<ClassificationDiagnostics>("classification");
  } else if (d.kind == "regression") {
    d.regression = o.required<RegressionDiagnostics>("regression");
  } else if (d.kind == "forecast") {
    d.forecast = o.required<ForecastDiagnostics>("forecast");
  } else {
    throw ShapeError(".kind", "'" + to_valid_utf8(d.kind) + "' is not a kind (known: classification, regression, forecast)");
  }
  if (o.fields().size() != 2) throw ShapeError("", "holds more than the one section its kind '" + d.kind + "' names");
  return d;
}

}  // namespace torchexam
