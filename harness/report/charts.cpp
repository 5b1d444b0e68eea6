#include "report/charts.hpp"

#include "report/svg.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <cmath>
#include <limits>

namespace torchexam::report {
namespace {

constexpr double kWidth = 640, kHeight = 260;
constexpr double kLeft = 64, kRight = 16, kTop = 24, kBottom = 46;
constexpr double kPlotLeft = kLeft, kPlotRight = kWidth - kRight, kPlotTop = kTop, kPlotBottom = kHeight - kBottom;

// A linear map from [lo, hi] (hi > lo) onto [a, b].
struct Scale {
  double lo, hi, a, b;
  double operator()(double v) const { return a + (v - lo) / (hi - lo) * (b - a); }
};

// The ticks of [lo, hi] and the scale over their whole span.
struct Axis {
  std::vector<double> ticks;
  Scale scale;
};

Axis make_axis(double lo, double hi, double a, double b) {
  std::vector<double> ticks = nice_ticks(lo, hi);
  return {ticks, Scale{ticks.front(), ticks.back(), a, b}};
}

void frame(Svg& svg, const Axis& x, const Axis& y, const std::string& x_label, const std::string& y_label) {
  for (double t : y.ticks) {
    const double py = y.scale(t);
    svg.line(kPlotLeft, py, kPlotRight, py, "grid");
    svg.text(kPlotLeft - 6, py + 4, label_number(t), "tick", "end");
  }
  for (double t : x.ticks) {
    const double px = x.scale(t);
    svg.line(px, kPlotBottom, px, kPlotBottom + 4, "axis");
    svg.text(px, kPlotBottom + 16, label_number(t), "tick", "middle");
  }
  svg.line(kPlotLeft, kPlotBottom, kPlotRight, kPlotBottom, "axis");
  svg.line(kPlotLeft, kPlotTop, kPlotLeft, kPlotBottom, "axis");
  svg.text((kPlotLeft + kPlotRight) / 2, kHeight - 8, x_label, "axis-label", "middle");
  svg.text_rotated(14, (kPlotTop + kPlotBottom) / 2, y_label, "axis-label");
}

void no_data(Svg& svg) {
  svg.text((kPlotLeft + kPlotRight) / 2, (kPlotTop + kPlotBottom) / 2, "no data", "muted", "middle");
}

// One row of legend entries along the top, right-aligned.
void legend(Svg& svg, const std::vector<std::pair<std::string, std::string>>& entries) {
  double x = kPlotRight;
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    const double w = 7.0 * static_cast<double>(it->first.size()) + 20;
    x -= w;
    svg.rect(x, 6, 10, 10, it->second);
    svg.text(x + 14, 15, it->first, "legend");
  }
}

// Every n-th label, so that about `room` of them fit.
size_t label_stride(size_t count, size_t room) { return count <= room ? 1 : (count + room - 1) / room; }

}  // namespace

std::vector<double> nice_ticks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) lo = 0, hi = 1;
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12) {
    const double pad = std::abs(lo) > 1e-9 ? std::abs(lo) * 0.1 : 1.0;
    lo -= pad;
    hi += pad;
  }
  const double raw = (hi - lo) / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  const double step = (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
  const double start = std::floor(lo / step + 1e-9) * step;
  const double end = std::ceil(hi / step - 1e-9) * step;
  std::vector<double> ticks;
  for (int i = 0; i <= 100; ++i) {
    double t = start + i * step;
    if (std::abs(t) < step * 1e-9) t = 0;
    ticks.push_back(t);
    if (t >= end - step * 1e-9) break;
  }
  if (ticks.size() < 2) ticks.push_back(start + step);
  return ticks;
}

std::string label_number(double x) {
  if (!std::isfinite(x)) return "-";
  if (std::abs(x) < 1e-12) return "0";
  return fmt::format("{:.4g}", x);
}

std::string line_chart(const ChartText& text, const std::vector<Series>& series, const Axes& axes) {
  Svg svg(text.id, kWidth, kHeight, text.title, text.description);
  double x_lo = std::numeric_limits<double>::infinity(), x_hi = -x_lo, y_lo = x_lo, y_hi = -x_lo;
  for (const auto& s : series)
    for (const auto& [x, y] : s.points) {
      if (!std::isfinite(x) || !std::isfinite(y)) continue;
      x_lo = std::min(x_lo, x), x_hi = std::max(x_hi, x), y_lo = std::min(y_lo, y), y_hi = std::max(y_hi, y);
    }
  const bool empty = !std::isfinite(x_lo);
  if (empty) x_lo = 0, x_hi = 1, y_lo = 0, y_hi = 1;
  x_lo = axes.x_min.value_or(x_lo), x_hi = axes.x_max.value_or(x_hi);
  y_lo = axes.y_min.value_or(y_lo), y_hi = axes.y_max.value_or(y_hi);
  const Axis x = make_axis(x_lo, x_hi, kPlotLeft, kPlotRight);
  const Axis y = make_axis(y_lo, y_hi, kPlotBottom, kPlotTop);
  frame(svg, x, y, axes.x_label, axes.y_label);
  if (empty) no_data(svg);
  std::vector<std::pair<std::string, std::string>> names;
  for (const auto& s : series) {
    std::vector<std::pair<double, double>> pts;
    std::vector<std::string> tips;
    for (size_t i = 0; i < s.points.size(); ++i) {
      const auto& [px, py] = s.points[i];
      if (!std::isfinite(px) || !std::isfinite(py)) continue;
      pts.emplace_back(x.scale(px), y.scale(py));
      tips.push_back(i < s.tips.size() ? s.tips[i] : std::string());
    }
    if (s.line && pts.size() > 1) svg.polyline(pts, "line " + s.cls);
    if (s.markers || pts.size() == 1)
      for (size_t i = 0; i < pts.size(); ++i) svg.circle(pts[i].first, pts[i].second, 4, "dot " + s.cls, tips[i]);
    if (!s.name.empty()) names.emplace_back(s.name, "key " + s.cls);
  }
  if (names.size() > 1) legend(svg, names);  // one series needs no key: the chart's title names it
  return svg.str();
}

std::string bar_chart(const ChartText& text, const std::vector<Bar>& bars, const std::string& y_label,
                      std::optional<double> y_max) {
  Svg svg(text.id, kWidth, kHeight, text.title, text.description);
  double hi = 0, lo = 0;
  for (const auto& b : bars)
    if (std::isfinite(b.value)) hi = std::max(hi, b.value), lo = std::min(lo, b.value);
  if (y_max) hi = *y_max;
  if (hi <= lo) hi = lo + 1;
  const Axis y = make_axis(lo, hi, kPlotBottom, kPlotTop);
  const Axis x{{}, Scale{0, 1, kPlotLeft, kPlotRight}};
  frame(svg, x, y, "", y_label);
  if (bars.empty()) no_data(svg);
  const double band = (kPlotRight - kPlotLeft) / std::max<size_t>(1, bars.size());
  const size_t stride = label_stride(bars.size(), 16);
  for (size_t i = 0; i < bars.size(); ++i) {
    const double v = std::isfinite(bars[i].value) ? bars[i].value : 0;
    const double top = y.scale(std::max(v, 0.0)), bottom = y.scale(std::min(v, 0.0));
    svg.rect(kPlotLeft + band * static_cast<double>(i) + band * 0.15, top, band * 0.7, bottom - top, "bar s0",
             bars[i].tip.empty() ? bars[i].label + ": " + label_number(v) : bars[i].tip);
    if (i % stride == 0)
      svg.text(kPlotLeft + band * (static_cast<double>(i) + 0.5), kPlotBottom + 16, bars[i].label, "tick", "middle");
  }
  return svg.str();
}

std::string grouped_bar_chart(const ChartText& text, const std::vector<BarGroup>& groups,
                              const std::vector<std::string>& series_names, const std::string& y_label,
                              std::optional<double> y_max) {
  Svg svg(text.id, kWidth, kHeight, text.title, text.description);
  double hi = 0;
  for (const auto& g : groups)
    for (double v : g.values)
      if (std::isfinite(v)) hi = std::max(hi, v);
  if (y_max) hi = *y_max;
  if (hi <= 0) hi = 1;
  const Axis y = make_axis(0, hi, kPlotBottom, kPlotTop);
  const Axis x{{}, Scale{0, 1, kPlotLeft, kPlotRight}};
  frame(svg, x, y, "", y_label);
  if (groups.empty()) no_data(svg);
  const double band = (kPlotRight - kPlotLeft) / std::max<size_t>(1, groups.size());
  const double n = static_cast<double>(std::max<size_t>(1, series_names.size()));
  const double bar = band * 0.8 / n;
  const size_t stride = label_stride(groups.size(), 12);
  for (size_t i = 0; i < groups.size(); ++i) {
    const double left = kPlotLeft + band * static_cast<double>(i) + band * 0.1;
    for (size_t k = 0; k < groups[i].values.size() && k < series_names.size(); ++k) {
      const double v = std::isfinite(groups[i].values[k]) ? std::max(0.0, groups[i].values[k]) : 0;
      const double top = y.scale(v);
      svg.rect(left + bar * static_cast<double>(k), top, bar * 0.92, kPlotBottom - top, fmt::format("bar s{}", k % 6),
               fmt::format("{} {}: {}", groups[i].label, series_names[k], label_number(v)));
    }
    if (i % stride == 0)
      svg.text(kPlotLeft + band * (static_cast<double>(i) + 0.5), kPlotBottom + 16, groups[i].label, "tick", "middle");
  }
  std::vector<std::pair<std::string, std::string>> names;
  for (size_t k = 0; k < series_names.size(); ++k) names.emplace_back(series_names[k], fmt::format("key s{}", k % 6));
  legend(svg, names);
  return svg.str();
}

std::string heat_map(const ChartText& text, const std::vector<std::string>& labels,
                     const std::vector<std::vector<int64_t>>& counts, const std::string& row_title,
                     const std::string& column_title) {
  const size_t n = labels.size();
  const double label_room = 110;
  const double cell = n == 0 ? 40 : std::min(48.0, 420.0 / static_cast<double>(n));
  const double grid = cell * static_cast<double>(n);
  const double width = label_room + grid + 20, height = 40 + grid + 30;
  Svg svg(text.id, width, height, text.title, text.description);
  svg.text(label_room + grid / 2, 14, column_title, "axis-label", "middle");
  svg.text_rotated(12, 40 + grid / 2, row_title, "axis-label");
  const bool small = cell < 30;
  for (size_t r = 0; r < n; ++r) {
    int64_t row_total = 0;
    if (r < counts.size())
      for (int64_t c : counts[r]) row_total += c;
    svg.text(label_room - 6, 40 + cell * (static_cast<double>(r) + 0.6), labels[r], "tick", "end");
    for (size_t c = 0; c < n; ++c) {
      const int64_t count = r < counts.size() && c < counts[r].size() ? counts[r][c] : 0;
      const double share = row_total > 0 ? static_cast<double>(count) / static_cast<double>(row_total) : 0;
      const double x = label_room + cell * static_cast<double>(c), y = 40 + cell * static_cast<double>(r);
      svg.rect(x, y, cell - 1, cell - 1, r == c ? "cell diag" : "cell off",
               fmt::format("{} {}, {} {}: {} ({}% of the row)", row_title, labels[r], column_title, labels[c], count,
                           num(share * 100, 1)),
               0.06 + 0.94 * share);
      if (!small || count > 0)
        svg.text(x + cell / 2, y + cell / 2 + 4, std::to_string(count), share > 0.5 ? "count light" : "count",
                 "middle");
    }
  }
  const size_t stride = label_stride(n, static_cast<size_t>(grid / 40) + 1);
  for (size_t c = 0; c < n; c += stride)
    svg.text(label_room + cell * (static_cast<double>(c) + 0.5), 40 + grid + 16, labels[c], "tick", "middle");
  return svg.str();
}

std::string histogram(const ChartText& text, const std::vector<double>& edges, const std::vector<int64_t>& counts,
                      const std::string& x_label) {
  Svg svg(text.id, kWidth, kHeight, text.title, text.description);
  const bool empty = edges.size() < 2 || counts.empty();
  int64_t hi = 1;
  for (int64_t c : counts) hi = std::max(hi, c);
  const Axis x = empty ? make_axis(0, 1, kPlotLeft, kPlotRight) : make_axis(edges.front(), edges.back(), kPlotLeft, kPlotRight);
  const Axis y = make_axis(0, static_cast<double>(hi), kPlotBottom, kPlotTop);
  frame(svg, x, y, x_label, "count");
  if (empty) {
    no_data(svg);
    return svg.str();
  }
  for (size_t i = 0; i < counts.size() && i + 1 < edges.size(); ++i) {
    const double left = x.scale(edges[i]), right = x.scale(edges[i + 1]);
    const double top = y.scale(static_cast<double>(counts[i]));
    svg.rect(left + 0.5, top, right - left - 1, kPlotBottom - top, "bar s0",
             fmt::format("{} to {}: {}", label_number(edges[i]), label_number(edges[i + 1]), counts[i]));
  }
  if (edges.front() < 0 && edges.back() > 0) svg.line(x.scale(0), kPlotTop, x.scale(0), kPlotBottom, "zero");
  return svg.str();
}

}  // namespace torchexam::report
