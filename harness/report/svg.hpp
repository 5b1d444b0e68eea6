// svg.hpp — a small writer of inline SVG for the report's charts, and the
// text escaping the report's HTML shares with it.
//
// Why hand-written: the report must render with scripts off (the VS Code
// webview's default) and offline, and Debian 12 packages no C++ chart
// library; an npm chart library would need a script or a headless renderer
// at build time. The charts are a few lines, bars, rectangles and labels,
// which this writer draws as static SVG elements (docs/guide.md, "The
// report").
//
// Contract:
// - escape() makes any bytes safe as HTML/SVG text or attribute value: it
//   first repairs invalid UTF-8 (U+FFFD, sandbox/text.hpp), then escapes
//   & < > " ' as character references. Every string that reaches an element
//   or attribute goes through it; numbers go through num().
// - num() spells a number with a fixed precision and never as "-0", "nan"
//   or "inf" (a non-finite value is written 0): the same value always gives
//   the same characters, so the same data gives the same bytes.
// - Svg is inline SVG for an HTML page: no xmlns (HTML5 needs none, and the
//   report holds no http(s) reference at all).
// - Svg is accessible by construction: the root has role="img" and
//   aria-labelledby pointing at its <title> and <desc>, whose ids are made
//   from the caller's `id` (unique within a page is the caller's duty).
// Threads: none shared. Failure: none (pure string building).
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torchexam::report {

std::string escape(std::string_view text);
// `x` with `decimals` digits after the point ("12.50"); -0 and non-finite as 0.
std::string num(double x, int decimals = 2);

class Svg {
 public:
  // An SVG of width x height user units, scaled to its container's width.
  Svg(std::string id, double width, double height, std::string_view title, std::string_view description);

  // Each draws one element; `cls` names a CSS class of the page (may be
  // empty); `tip`, when not empty, becomes the element's <title> (a
  // tooltip, and what a screen reader says for it).
  void line(double x1, double y1, double x2, double y2, std::string_view cls);
  void polyline(const std::vector<std::pair<double, double>>& points, std::string_view cls);
  // `opacity` in [0, 1] sets fill-opacity (a heat map's shade); < 0 leaves it.
  void rect(double x, double y, double w, double h, std::string_view cls, std::string_view tip = {},
            double opacity = -1);
  void circle(double cx, double cy, double r, std::string_view cls, std::string_view tip = {});
  // anchor: "start", "middle" or "end".
  void text(double x, double y, std::string_view content, std::string_view cls, std::string_view anchor = "start");
  void text_rotated(double x, double y, std::string_view content, std::string_view cls);

  double width() const { return width_; }
  double height() const { return height_; }
  // The finished element, "<svg ...>...</svg>".
  std::string str() const;

 private:
  static std::string cls_attr(std::string_view cls);
  std::string id_;
  double width_, height_;
  std::string title_, description_;
  std::string body_;
};

}  // namespace torchexam::report
