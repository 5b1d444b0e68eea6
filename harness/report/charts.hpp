// charts.hpp — the report's chart kinds drawn with Svg (svg.hpp): lines and
// points on two axes, bars, grouped bars, a heat map with counts, a
// histogram. Each returns one finished <svg> element.
//
// Contract: the scales are computed from the data (and the optional fixed
// bounds), with "nice" tick values (1, 2 or 5 times a power of ten); a
// non-finite point is skipped; empty data gives a chart with its axes and a
// "no data" label, never a failure. The output depends only on the
// arguments. Colours come from the page's CSS classes (render.cpp's
// stylesheet): series classes s0..s5, "raw", "smooth", "band", "marker".
// Threads: none shared. Failure: none.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace torchexam::report {

struct ChartText {
  std::string id;           // unique within the page
  std::string title;        // the chart's accessible name
  std::string description;  // what it shows, for a screen reader
};

struct Series {
  std::string name;
  std::string cls;  // CSS class: s0..s5, raw, smooth
  std::vector<std::pair<double, double>> points;
  bool line = true;      // a polyline through the points
  bool markers = false;  // a circle at each point (with `tips` as tooltips)
  std::vector<std::string> tips;  // one per point, or empty
};

struct Axes {
  std::string x_label, y_label;
  std::optional<double> x_min, x_max, y_min, y_max;
};

std::string line_chart(const ChartText& text, const std::vector<Series>& series, const Axes& axes);

struct Bar {
  std::string label;
  double value = 0;
  std::string tip;
};
std::string bar_chart(const ChartText& text, const std::vector<Bar>& bars, const std::string& y_label,
                      std::optional<double> y_max = std::nullopt);

// Bars per group side by side, one per series (e.g. precision, recall, F1 per class).
struct BarGroup {
  std::string label;
  std::vector<double> values;  // one per series name
};
std::string grouped_bar_chart(const ChartText& text, const std::vector<BarGroup>& groups,
                              const std::vector<std::string>& series_names, const std::string& y_label,
                              std::optional<double> y_max = std::nullopt);

// A square matrix of counts: rows are `row_title` (e.g. true class), columns `column_title`.
std::string heat_map(const ChartText& text, const std::vector<std::string>& labels,
                     const std::vector<std::vector<int64_t>>& counts, const std::string& row_title,
                     const std::string& column_title);

// Bins between `edges` (ascending, counts.size() + 1 of them).
std::string histogram(const ChartText& text, const std::vector<double>& edges, const std::vector<int64_t>& counts,
                      const std::string& x_label);

// Tick values covering [lo, hi] at a step of 1, 2 or 5 times a power of ten,
// about `target` of them. lo == hi gives a range around it.
std::vector<double> nice_ticks(double lo, double hi, int target = 5);
// A number as a chart label: up to 4 significant digits, no trailing zeros.
std::string label_number(double x);

}  // namespace torchexam::report
