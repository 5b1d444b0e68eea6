#include "report/svg.hpp"

#include "sandbox/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace torchexam::report {

std::string escape(std::string_view text) {
  const std::string valid = to_valid_utf8(text);
  std::string out;
  out.reserve(valid.size());
  for (char c : valid) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string num(double x, int decimals) {
  if (!std::isfinite(x)) x = 0;
  std::string s = fmt::format("{:.{}f}", x, decimals);
  // "-0.00" and the like: the sign of a value that rounds to zero.
  if (s[0] == '-' && s.find_first_not_of("-0.") == std::string::npos) s.erase(0, 1);
  return s;
}

Svg::Svg(std::string id, double width, double height, std::string_view title, std::string_view description)
    : id_(std::move(id)), width_(width), height_(height), title_(title), description_(description) {}

std::string Svg::cls_attr(std::string_view cls) {
  return cls.empty() ? std::string() : fmt::format(" class=\"{}\"", escape(cls));
}

void Svg::line(double x1, double y1, double x2, double y2, std::string_view cls) {
  body_ += fmt::format("<line x1=\"{}\" y1=\"{}\" x2=\"{}\" y2=\"{}\"{}/>", num(x1), num(y1), num(x2), num(y2),
                       cls_attr(cls));
}

void Svg::polyline(const std::vector<std::pair<double, double>>& points, std::string_view cls) {
  if (points.empty()) return;
  std::string list;
  for (const auto& [x, y] : points) {
    if (!list.empty()) list += ' ';
    list += num(x) + "," + num(y);
  }
  body_ += fmt::format("<polyline points=\"{}\"{}/>", list, cls_attr(cls));
}

void Svg::rect(double x, double y, double w, double h, std::string_view cls, std::string_view tip, double opacity) {
  const std::string attrs = fmt::format("x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"{}{}", num(x), num(y),
                                        num(std::max(0.0, w)), num(std::max(0.0, h)), cls_attr(cls),
                                        opacity < 0 ? "" : fmt::format(" fill-opacity=\"{}\"", num(std::min(1.0, opacity), 3)));
  if (tip.empty()) body_ += fmt::format("<rect {}/>", attrs);
  else body_ += fmt::format("<rect {}><title>{}</title></rect>", attrs, escape(tip));
}

void Svg::circle(double cx, double cy, double r, std::string_view cls, std::string_view tip) {
  const std::string attrs = fmt::format("cx=\"{}\" cy=\"{}\" r=\"{}\"{}", num(cx), num(cy), num(r), cls_attr(cls));
  if (tip.empty()) body_ += fmt::format("<circle {}/>", attrs);
  else body_ += fmt::format("<circle {}><title>{}</title></circle>", attrs, escape(tip));
}

void Svg::text(double x, double y, std::string_view content, std::string_view cls, std::string_view anchor) {
  body_ += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"{}\"{}>{}</text>", num(x), num(y), escape(anchor),
                       cls_attr(cls), escape(content));
}

void Svg::text_rotated(double x, double y, std::string_view content, std::string_view cls) {
  body_ += fmt::format("<text transform=\"translate({},{}) rotate(-90)\" text-anchor=\"middle\"{}>{}</text>", num(x),
                       num(y), cls_attr(cls), escape(content));
}

std::string Svg::str() const {
  const std::string id = escape(id_);
  return fmt::format(
      "<svg id=\"{0}\" viewBox=\"0 0 {1} {2}\" width=\"100%\" "
      "preserveAspectRatio=\"xMidYMid meet\" role=\"img\" aria-labelledby=\"{0}-title {0}-desc\">"
      "<title id=\"{0}-title\">{3}</title><desc id=\"{0}-desc\">{4}</desc>{5}</svg>",
      id, num(width_, 0), num(height_, 0), escape(title_), escape(description_), body_);
}

}  // namespace torchexam::report
