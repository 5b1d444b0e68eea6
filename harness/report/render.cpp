#include "report/render.hpp"

#include "report/charts.hpp"
#include "report/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <map>

namespace torchexam::report {
namespace {

// Light colours on white, readable in print and in a dark editor (the page
// sets its own background). Series s0..s5 follow the Okabe-Ito palette,
// distinguishable with the common colour-vision deficiencies.
constexpr const char* kStyle = R"css(
:root { color-scheme: light; }
body { margin: 0; background: #f4f5f7; color: #1b1f24; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 980px; margin: 0 auto; padding: 24px; background: #fff; }
h1 { font-size: 1.6em; margin: 0 0 4px; }
h2 { font-size: 1.3em; margin: 32px 0 8px; border-bottom: 2px solid #dde1e6; padding-bottom: 4px; }
h3 { font-size: 1.05em; margin: 20px 0 6px; }
.sub { color: #57606a; margin: 0 0 12px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 8px 0; }
dl.facts dt { color: #57606a; }
dl.facts dd { margin: 0; overflow-wrap: anywhere; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.92em; }
th, td { border: 1px solid #dde1e6; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f2f5; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
details { margin: 4px 0 12px; }
summary { color: #0b5cad; cursor: pointer; }
pre { background: #f6f8fa; border: 1px solid #dde1e6; padding: 8px; overflow-x: auto; white-space: pre-wrap; overflow-wrap: anywhere; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; font-weight: 600; }
.badge.ok, .badge.pass { background: #d8f3dc; color: #1a5e2a; }
.badge.bad, .badge.fail { background: #fde2e1; color: #8a1c1c; }
.badge.none { background: #eceff3; color: #444; }
.failure { border-left: 4px solid #c0392b; background: #fff6f5; padding: 4px 12px; margin: 8px 0; }
.note { border-left: 4px solid #8c959f; background: #f6f8fa; padding: 4px 12px; }
.total { font-size: 1.25em; }
footer.fingerprint { margin-top: 16px; border-top: 1px dashed #c9ced6; color: #3d444d; font-size: 0.9em; }
footer.page { margin-top: 40px; color: #57606a; font-size: 0.85em; }
svg { display: block; max-width: 100%; height: auto; margin: 6px 0; font: 12px system-ui, sans-serif; }
svg .grid { stroke: #e6e9ed; stroke-width: 1; }
svg .axis { stroke: #6e7781; stroke-width: 1; }
svg .zero { stroke: #6e7781; stroke-dasharray: 3 3; }
svg .tick, svg .legend { fill: #3d444d; font-size: 11px; }
svg .axis-label { fill: #3d444d; font-size: 12px; }
svg .muted { fill: #8c959f; }
svg .line { fill: none; stroke-width: 2; }
svg .line.raw { stroke: #9ecae1; stroke-width: 1; }
svg .line.smooth { stroke: #08519c; stroke-width: 2.2; }
svg .key.raw, svg .dot.raw { fill: #9ecae1; }
svg .key.smooth, svg .dot.smooth { fill: #08519c; }
svg .s0 { stroke: #0072b2; fill: #0072b2; } svg .s1 { stroke: #e69f00; fill: #e69f00; }
svg .s2 { stroke: #009e73; fill: #009e73; } svg .s3 { stroke: #cc79a7; fill: #cc79a7; }
svg .s4 { stroke: #56b4e9; fill: #56b4e9; } svg .s5 { stroke: #d55e00; fill: #d55e00; }
svg .line.s0, svg .line.s1, svg .line.s2, svg .line.s3, svg .line.s4, svg .line.s5 { fill: none; }
svg .bar { stroke: none; }
svg .cell { fill: #08519c; }
svg .cell.off { fill: #b2182b; }
svg .count { fill: #1b1f24; font-size: 11px; }
svg .count.light { fill: #fff; }
svg .band { stroke: #fff; stroke-width: 2; }
svg .b0 { fill: #f4cccc; } svg .b1 { fill: #fce5cd; } svg .b2 { fill: #fff2cc; }
svg .b3 { fill: #d9ead3; } svg .b4 { fill: #b6d7a8; } svg .b5 { fill: #93c47d; }
svg .band-label { fill: #1b1f24; font-size: 13px; font-weight: 600; }
svg .marker { stroke: #1b1f24; stroke-width: 3; }
svg .marker-label { fill: #1b1f24; font-size: 12px; font-weight: 600; }
svg .used { fill: #0072b2; } svg .budget { fill: #e6e9ed; }
)css";

std::string metric_text(std::optional<double> m) { return m ? fmt::format("{:.4f}", *m) : std::string("-"); }
std::string metric_text(double m) { return std::isfinite(m) ? fmt::format("{:.4f}", m) : std::string("-"); }

// Page-wide state: chart ids in the order they are drawn.
struct Page {
  std::string html;
  int charts = 0;
  std::string next_id() { return fmt::format("chart-{}", ++charts); }
  void add(std::string_view s) { html += s; }
};

std::string verdict_badge(const std::string& verdict) {
  if (verdict.empty()) return "<span class=\"badge none\">no verdict</span>";
  return fmt::format("<span class=\"badge {}\">{}</span>", verdict == "ok" ? "ok" : "bad", escape(verdict));
}

// A table from a header row and body rows of already escaped cells; a cell
// starting with '\x01' is numeric (right-aligned).
std::string table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows,
                  const std::string& caption = "") {
  std::string out = "<table>";
  if (!caption.empty()) out += "<caption>" + escape(caption) + "</caption>";
  out += "<thead><tr>";
  for (const auto& h : head) out += "<th scope=\"col\">" + escape(h) + "</th>";
  out += "</tr></thead><tbody>";
  for (const auto& r : rows) {
    out += "<tr>";
    for (const auto& c : r) {
      if (!c.empty() && c[0] == '\x01') out += "<td class=\"num\">" + c.substr(1) + "</td>";
      else out += "<td>" + c + "</td>";
    }
    out += "</tr>";
  }
  return out + "</tbody></table>";
}
std::string numeric(const std::string& s) { return "\x01" + escape(s); }

std::string numbers(const std::string& what, const std::string& table_html) {
  return fmt::format("<details><summary>{}</summary>{}</details>", escape(what), table_html);
}

void header(Page& p, const Report& r) {
  const SessionView& s = r.session;
  p.add("<header><h1>TorchExam report</h1>");
  p.add(fmt::format("<p class=\"sub\">{}</p><dl class=\"facts\">", escape(r.title)));
  auto fact = [&p](const std::string& k, const std::string& v) {
    p.add(fmt::format("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
  };
  fact("environment", s.environment);
  fact("session", s.id + " (" + s.mode + ", " + s.state + ")");
  fact("started", utc_time(s.started_at_ms));
  fact("deadline", utc_time(s.deadline_ms) + " (" + duration_text(s.duration_s) + " in all)");
  fact("workspace", s.workspace);
  p.add("</dl></header>");
}

// Each finished submission's score against exam time, one series per task.
void timeline(Page& p, const Report& r, const std::vector<HistoryRow>& rows) {
  std::map<std::string, size_t> task_index;
  for (const auto& t : r.session.tasks) task_index.emplace(t.id, task_index.size());
  std::vector<Series> series(task_index.size());
  for (const auto& [id, k] : task_index) series[k] = {id, fmt::format("s{}", k % 6), {}, false, true, {}};
  std::vector<std::vector<std::string>> table_rows;
  bool any = false;
  for (const auto& h : rows) {
    if (h.state != "finished") continue;
    auto it = task_index.find(h.task);
    if (it == task_index.end()) {  // a task the summary does not list
      it = task_index.emplace(h.task, series.size()).first;
      series.push_back({h.task, fmt::format("s{}", it->second % 6), {}, false, true, {}});
    }
    series[it->second].points.emplace_back(h.exam_time_s / 60.0, h.score);
    series[it->second].tips.push_back(fmt::format("submission {} ({}): {}/5, {}, at {} with {} left", h.id, h.task,
                                                  h.score, h.verdict, duration_text(h.exam_time_s),
                                                  duration_text(h.time_left_s)));
    table_rows.push_back({numeric(std::to_string(h.id)), escape(h.task), numeric(duration_text(h.exam_time_s)),
                          numeric(duration_text(h.time_left_s)), escape(h.verdict), numeric(metric_text(h.metric)),
                          numeric(fmt::format("{}/5", h.score))});
    any = true;
  }
  p.add("<h3>Score timeline</h3>");
  if (!any) return p.add("<p class=\"note\">No graded submission yet.</p>");
  Axes axes{"exam time (minutes since the start)", "score", 0.0, std::max(1.0, r.session.duration_s / 60.0), 0.0, 5.0};
  p.add(line_chart({p.next_id(), "Score timeline",
                    "Each graded submission's score (0 to 5) against the exam time at which it was submitted, one "
                    "colour per task."},
                   series, axes));
  p.add(numbers("The timeline's numbers", table({"submission", "task", "exam time", "time left", "verdict", "metric",
                                                  "score"},
                                                 table_rows)));
}

void session_section(Page& p, const Report& r) {
  const SessionView& s = r.session;
  p.add("<section id=\"session\"><h2>Exam result</h2>");
  p.add(fmt::format("<p class=\"total\">Total <strong>{}/{}</strong> against a pass mark of {}: <span class=\"badge "
                    "{}\">{}</span></p>",
                    s.total_score, s.max_score, s.pass_mark, s.passed ? "pass" : "fail",
                    s.passed ? "passed" : (s.state == "running" || s.state == "paused" ? "not yet passing" : "not passed")));
  std::vector<std::vector<std::string>> rows;
  for (const auto& t : s.tasks)
    rows.push_back({escape(t.id), escape(t.title), escape(t.metric), numeric(fmt::format("{}/5", t.best_score)),
                    t.best_submission ? numeric(std::to_string(*t.best_submission)) : numeric("-"),
                    numeric(std::to_string(t.submissions)), t.last_verdict.empty() ? "-" : escape(t.last_verdict)});
  p.add(table({"task", "title", "metric", "best score", "best submission", "submissions", "last verdict"}, rows,
              "Best score per task"));
  timeline(p, r, r.history);
  p.add("</section>");
}

void task_section(Page& p, const Report& r) {
  p.add(fmt::format("<section id=\"task\"><h2>Submissions of {}</h2>", escape(r.task)));
  std::vector<std::vector<std::string>> rows;
  for (const auto& h : r.history)
    rows.push_back({numeric(std::to_string(h.id)), escape(h.state), escape(h.verdict.empty() ? "-" : h.verdict),
                    numeric(metric_text(h.metric)), numeric(fmt::format("{}/5", h.score)),
                    numeric(duration_text(h.exam_time_s)), escape(h.message)});
  p.add(table({"submission", "state", "verdict", "metric", "score", "exam time", "message"}, rows));
  timeline(p, r, r.history);
  p.add("</section>");
}

// The six bands of the ladder along the metric's axis, and where the metric landed.
void ladder(Page& p, const LadderView& l) {
  p.add("<h3>Score on the ladder</h3>");
  if (l.thresholds.empty()) return p.add("<p class=\"note\">This task's ladder is not known.</p>");
  std::string line = fmt::format("{} <strong>{}</strong>: score <strong>{}/5</strong>", escape(l.metric_name),
                                 escape(metric_text(l.metric)), l.score);
  if (l.next_score && l.to_next)
    line += fmt::format("; {} {} to reach {}/5 (at {})", escape(metric_text(*l.to_next)),
                        l.higher_is_better ? "more" : "less", *l.next_score, escape(label_number(*l.next_threshold)));
  else if (l.metric && l.score >= 5) line += "; the top band";
  line += l.higher_is_better ? " (higher is better)" : " (lower is better)";
  p.add("<p>" + line + "</p>");

  double lo = *std::min_element(l.thresholds.begin(), l.thresholds.end());
  double hi = *std::max_element(l.thresholds.begin(), l.thresholds.end());
  if (l.metric) lo = std::min(lo, *l.metric), hi = std::max(hi, *l.metric);
  const double pad = std::max((hi - lo) * 0.15, 1e-6);
  lo -= pad, hi += pad;
  const double w = 640, h = 96, left = 16, right = 624, top = 30, bar = 34;
  auto x = [&](double v) { return left + (v - lo) / (hi - lo) * (right - left); };
  Svg svg(p.next_id(), w, h, "Score ladder of " + l.metric_name,
          "The metric's range split into the bands of scores 0 to 5 at the task's thresholds, with a marker at " +
              metric_text(l.metric) + ", which scores " + std::to_string(l.score) + " of 5.");
  for (const auto& b : l.bands) {
    const double x0 = b.low ? x(*b.low) : left, x1 = b.high ? x(*b.high) : right;
    svg.rect(x0, top, x1 - x0, bar, fmt::format("band b{}", b.score),
             fmt::format("score {}: {} to {}", b.score, b.low ? label_number(*b.low) : "-inf",
                         b.high ? label_number(*b.high) : "+inf"));
    svg.text((x0 + x1) / 2, top + bar / 2 + 5, fmt::format("{}", b.score), "band-label", "middle");
  }
  for (double t : l.thresholds) svg.text(x(t), top + bar + 16, label_number(t), "tick", "middle");
  if (l.metric) {
    const double mx = x(*l.metric);
    svg.line(mx, top - 6, mx, top + bar + 4, "marker");
    svg.text(mx, top - 10, metric_text(l.metric), "marker-label", "middle");
  }
  p.add(svg.str());
  std::vector<std::vector<std::string>> rows;
  for (const auto& b : l.bands)
    rows.push_back({numeric(fmt::format("{}/5", b.score)), numeric(b.low ? label_number(*b.low) : "-"),
                    numeric(b.high ? label_number(*b.high) : "-"), b.score == l.score ? "this submission" : ""});
  p.add(numbers("The ladder's numbers", table({"score", "from", "to", ""}, rows)));
}

void training(Page& p, const TrainingView& t) {
  p.add("<h3>Training</h3>");
  if (!t.loss.empty()) {
    Series raw{"loss", "raw", {}, true, false, {}}, smooth{"smoothed", "smooth", {}, true, false, {}};
    for (const auto& pt : t.loss) {
      raw.points.emplace_back(static_cast<double>(pt.step), pt.loss);
      smooth.points.emplace_back(static_cast<double>(pt.step), pt.smoothed);
    }
    p.add(line_chart({p.next_id(), "Training loss per reported step",
                      fmt::format("The loss of each of {} progress reports, raw and smoothed (moving average, "
                                  "weight {}).",
                                  t.loss.size(), num(kSmoothing, 1))},
                     {raw, smooth}, Axes{"reported step", "loss", std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
  }
  if (!t.epochs.empty()) {
    Series loss{"mean loss", "s0", {}, true, true, {}};
    for (const auto& e : t.epochs) loss.points.emplace_back(e.epoch, e.loss);
    p.add(line_chart({p.next_id(), "Mean loss per epoch", "The mean training loss of each epoch."}, {loss},
                     Axes{"epoch", "loss", std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
    if (!t.metric_names.empty()) {
      std::vector<Series> metrics;
      for (size_t k = 0; k < t.metric_names.size(); ++k) {
        Series s{t.metric_names[k], fmt::format("s{}", (k + 1) % 6), {}, true, true, {}};
        for (const auto& e : t.epochs)
          if (auto it = e.metrics.find(t.metric_names[k]); it != e.metrics.end()) s.points.emplace_back(e.epoch, it->second);
        metrics.push_back(std::move(s));
      }
      std::string names;
      for (const auto& n : t.metric_names) names += (names.empty() ? "" : ", ") + n;
      p.add(line_chart({p.next_id(), "Metrics per epoch", "What the solution reported with ctx.metric() each epoch: " + names + "."},
                       metrics, Axes{"epoch", "value", std::nullopt, std::nullopt, std::nullopt, std::nullopt}));
    }
    Series rate{"samples/s", "s2", {}, true, true, {}};
    for (const auto& e : t.epochs)
      if (e.samples_per_s) rate.points.emplace_back(e.epoch, *e.samples_per_s);
    if (!rate.points.empty())
      p.add(line_chart({p.next_id(), "Throughput per epoch", "Training samples per second in each epoch."}, {rate},
                       Axes{"epoch", "samples/s", std::nullopt, std::nullopt, 0.0, std::nullopt}));
    std::vector<std::string> head{"epoch", "mean loss", "samples/s", "elapsed"};
    for (const auto& n : t.metric_names) head.push_back(n);
    std::vector<std::vector<std::string>> rows;
    for (const auto& e : t.epochs) {
      std::vector<std::string> row{numeric(std::to_string(e.epoch)), numeric(metric_text(e.loss)),
                                   numeric(e.samples_per_s ? num(*e.samples_per_s, 0) : "-"),
                                   numeric(duration_text(e.elapsed_s))};
      for (const auto& n : t.metric_names) {
        auto it = e.metrics.find(n);
        row.push_back(numeric(it == e.metrics.end() ? "-" : metric_text(it->second)));
      }
      rows.push_back(std::move(row));
    }
    p.add(numbers("The epochs' numbers", table(head, rows)));
  }
  // Time used against the budget.
  const double share = t.budget_s > 0 ? std::min(1.0, t.time_used_s / t.budget_s) : 0;
  const std::string used = fmt::format("{} of a {} budget ({}%)", duration_text(t.time_used_s), duration_text(t.budget_s),
                                       num(share * 100, 0));
  Svg svg(p.next_id(), 640, 40, "Training time used", "Training used " + used + ".");
  svg.rect(16, 8, 608, 22, "budget", "budget " + duration_text(t.budget_s));
  svg.rect(16, 8, 608 * share, 22, "used", "used " + duration_text(t.time_used_s));
  p.add("<p>Training time: " + escape(used) + "</p>");
  p.add(svg.str());
}

void classification(Page& p, const ClassificationDiagnostics& c) {
  p.add(fmt::format("<p>Accuracy on the hidden test data: <strong>{}</strong></p>", escape(metric_text(c.accuracy))));
  p.add(heat_map({p.next_id(), "Confusion matrix",
                  "Hidden test samples by true class (rows) and predicted class (columns); the diagonal is correct. "
                  "Shade: share of the row."},
                 c.classes, c.confusion, "true", "predicted"));
  std::vector<std::vector<std::string>> rows;
  for (size_t r = 0; r < c.confusion.size(); ++r) {
    std::vector<std::string> row{escape(r < c.classes.size() ? c.classes[r] : std::to_string(r))};
    for (int64_t n : c.confusion[r]) row.push_back(numeric(std::to_string(n)));
    rows.push_back(std::move(row));
  }
  std::vector<std::string> head{"true \\ predicted"};
  for (const auto& name : c.classes) head.push_back(name);
  p.add(numbers("The confusion matrix's counts", table(head, rows)));
  std::vector<BarGroup> groups;
  std::vector<std::vector<std::string>> per_class;
  for (const auto& f : c.per_class) {
    groups.push_back({f.name, {f.precision, f.recall, f.f1}});
    per_class.push_back({escape(f.name), numeric(metric_text(f.precision)), numeric(metric_text(f.recall)),
                         numeric(metric_text(f.f1)), numeric(std::to_string(f.support))});
  }
  p.add(grouped_bar_chart({p.next_id(), "Precision, recall and F1 per class",
                           "For each class, the precision, recall and F1 score on the hidden test data."},
                          groups, {"precision", "recall", "F1"}, "value", 1.0));
  p.add(numbers("The per-class numbers", table({"class", "precision", "recall", "F1", "support"}, per_class)));
}

void residuals(Page& p, const Histogram& h, const std::string& what) {
  p.add(histogram({p.next_id(), "Residuals", "How many hidden test " + what + " had each error (predicted minus true)."},
                  h.edges, h.counts, "predicted - true"));
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < h.counts.size() && i + 1 < h.edges.size(); ++i)
    rows.push_back({numeric(label_number(h.edges[i])), numeric(label_number(h.edges[i + 1])),
                    numeric(std::to_string(h.counts[i]))});
  p.add(numbers("The residual histogram's numbers", table({"from", "to", "count"}, rows)));
}

void regression(Page& p, const RegressionDiagnostics& g) {
  std::vector<Bar> bars;
  std::vector<std::vector<std::string>> rows;
  for (const auto& r : g.by_target_range) {
    const std::string range = label_number(r.low) + "–" + label_number(r.high);
    bars.push_back({range, r.mae, fmt::format("targets {}: MAE {} over {} samples", range, metric_text(r.mae), r.count)});
    rows.push_back({numeric(label_number(r.low)), numeric(label_number(r.high)), numeric(std::to_string(r.count)),
                    numeric(metric_text(r.mae))});
  }
  p.add(bar_chart({p.next_id(), "Error by target range",
                   "Mean absolute error for each range of the hidden targets (deciles), lowest targets first."},
                  bars, "MAE"));
  p.add(numbers("The error by target range", table({"from", "to", "samples", "MAE"}, rows)));
  residuals(p, g.residuals, "samples");
}

void forecast(Page& p, const ForecastDiagnostics& f) {
  Series s{"MAE", "s0", {}, true, true, {}};
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i < f.mae_per_step.size(); ++i) {
    s.points.emplace_back(static_cast<double>(i + 1), f.mae_per_step[i]);
    rows.push_back({numeric(std::to_string(i + 1)), numeric(metric_text(f.mae_per_step[i]))});
  }
  const std::string unit = f.step_unit.empty() ? "step" : f.step_unit;
  p.add(line_chart({p.next_id(), "Error per forecast step",
                    "Mean absolute error of the forecast for each " + unit + " ahead, on the hidden test data."},
                   {s}, Axes{unit + " ahead", "MAE", std::nullopt, std::nullopt, 0.0, std::nullopt}));
  p.add(numbers("The error per step", table({unit, "MAE"}, rows)));
  residuals(p, f.residuals, "forecasts");
}

void task_diagnostics(Page& p, const SubmissionView& s) {
  if (s.task_diagnostics_hidden) {
    p.add("<h3>Task diagnostics</h3><p class=\"note\">This exam shows the metric only until it closes: the confusion "
          "matrix and error plots appear in the report written after the close.</p>");
    return;
  }
  if (!s.task_diagnostics) return;
  const TaskDiagnostics& d = *s.task_diagnostics;
  p.add("<h3>Task diagnostics</h3><p>Aggregates over the hidden test data, computed by the task's scorer.</p>");
  if (d.classification) classification(p, *d.classification);
  if (d.regression) regression(p, *d.regression);
  if (d.forecast) forecast(p, *d.forecast);
}

void fingerprint(Page& p, const Fingerprint& f) {
  p.add("<footer class=\"fingerprint\"><h3>What this grading depended on</h3><dl class=\"facts\">");
  auto fact = [&p](const std::string& k, const std::string& v) {
    if (!v.empty()) p.add(fmt::format("<dt>{}</dt><dd>{}</dd>", escape(k), escape(v)));
  };
  fact("source sha256", f.source_sha256);
  fact("seed", std::to_string(f.seed));
  fact("threads", std::to_string(f.threads) + (f.deterministic ? ", deterministic algorithms" : ""));
  fact("LibTorch", f.libtorch.version + (f.libtorch.parallel.empty() ? "" : " (" + f.libtorch.parallel + ")") +
                       (f.libtorch.cxx11_abi ? ", C++11 ABI" : ""));
  fact("BLAS", f.blas.path + (f.blas.version.empty() ? "" : " " + f.blas.version));
  std::string flags;
  for (const auto& x : f.compiler.flags) flags += (flags.empty() ? "" : " ") + x;
  fact("compiler", f.compiler.id + " " + f.compiler.version);
  fact("flags", flags);
  fact("plugin", f.plugin.sha256.empty() ? "" : f.plugin.sha256 + " (ABI " + std::to_string(f.plugin.abi_version) + ")");
  fact("task definition sha256", f.task_sha256);
  for (const auto& [name, sha] : f.data) fact("data " + name, sha);
  fact("harness", f.harness_version);
  p.add("</dl></footer>");
}

void submission(Page& p, const SubmissionView& s) {
  p.add(fmt::format("<section class=\"submission\" id=\"submission-{}\"><h2>Submission {} · {} {}</h2>", s.id, s.id,
                    escape(s.task), verdict_badge(s.verdict)));
  p.add(fmt::format("<p class=\"sub\">{} · {} · submitted {} into the exam, {} left · {}</p>", escape(s.file),
                    escape(s.state), escape(duration_text(s.exam_time_s)), escape(duration_text(s.time_left_s)),
                    escape(utc_time(s.submitted_at_ms))));
  if (s.failed) {  // why it failed comes first
    p.add("<div class=\"failure\"><h3>Why it failed</h3>");
    p.add("<p>" + escape(s.message) + "</p>");
    if (!s.detail.empty()) p.add("<pre>" + escape(s.detail) + "</pre>");
    if (!s.diagnostics.empty()) {
      std::string lines;
      for (const auto& d : s.diagnostics)
        lines += d.line > 0 ? fmt::format("{}:{}:{}: {}: {}\n", d.file, d.line, d.column, d.severity, d.message)
                            : fmt::format("{}: {}: {}\n", d.file, d.severity, d.message);
      p.add("<pre>" + escape(lines) + "</pre>");
    }
    p.add("</div>");
  } else if (!s.message.empty()) {
    p.add("<p>" + escape(s.message) + "</p>");
  }
  ladder(p, s.ladder);
  if (s.training) training(p, *s.training);
  task_diagnostics(p, s);
  if (s.fingerprint) fingerprint(p, *s.fingerprint);
  p.add("</section>");
}

}  // namespace

std::string utc_time(int64_t unix_ms) {
  const std::time_t t = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  return fmt::format("{:04}-{:02}-{:02} {:02}:{:02}:{:02} UTC", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
}

std::string duration_text(double seconds) {
  const long long s = std::isfinite(seconds) && seconds > 0 ? std::llround(seconds) : 0;
  if (s >= 3600) return fmt::format("{}h {:02}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m {:02}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

std::string render_html(const Report& r) {
  Page p;
  p.add("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
  // Nothing may be loaded: no script, no font, no image, no connection.
  p.add("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">");
  p.add("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
  p.add(fmt::format("<title>{}</title><style>{}</style></head><body><main>", escape(r.title), kStyle));
  header(p, r);
  if (r.scope == "session") session_section(p, r);
  else if (r.scope == "task") task_section(p, r);
  if (r.scope == "session" && !r.submissions.empty())
    p.add("<p>Below, each task's best submission (else its newest graded one) in full.</p>");
  for (const auto& s : r.submissions) submission(p, s);
  p.add("<footer class=\"page\">Written by <code>torchexam report</code> from the daemon's records. It needs no "
        "network and runs no script.</footer></main></body></html>\n");
  return p.html;
}

}  // namespace torchexam::report
