#include "config/version_spec.hpp"

#include "config/text.hpp"

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace torchexam {
namespace {

using config::detail::trim;

// a <=> b, the shorter padded with zeros: 1.13 == 1.13.0.
int compare(const Version& a, const Version& b) {
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const long x = i < a.size() ? a[i] : 0, y = i < b.size() ? b[i] : 0;
    if (x != y) return x < y ? -1 : 1;
  }
  return 0;
}

// Strict: the whole text must be a dotted version.
std::optional<Version> parse_exact(std::string_view text) {
  if (text.empty() || !std::isdigit(static_cast<unsigned char>(text.front())) || text.back() == '.')
    return std::nullopt;
  if (!std::all_of(text.begin(), text.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) || c == '.'; }))
    return std::nullopt;
  if (text.find("..") != std::string_view::npos) return std::nullopt;
  return parse_version(text);
}

}  // namespace

std::optional<Version> parse_version(std::string_view text) {
  text = trim(text);
  Version v;
  size_t i = 0;
  while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
    long n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      if (n > 100000000) return std::nullopt;
      n = n * 10 + (text[i++] - '0');
    }
    v.push_back(n);
    if (i + 1 < text.size() && text[i] == '.' && std::isdigit(static_cast<unsigned char>(text[i + 1])))
      ++i;
    else
      break;
  }
  if (v.empty()) return std::nullopt;
  return v;
}

std::string to_string(const Version& v) {
  std::string out;
  for (long n : v) out += (out.empty() ? "" : ".") + std::to_string(n);
  return out;
}

VersionSpec VersionSpec::parse(std::string_view text) {
  VersionSpec spec;
  spec.text_ = std::string(trim(text));
  std::string_view rest = spec.text_;
  if (rest.empty()) throw std::invalid_argument("empty version requirement");
  while (true) {
    const size_t comma = rest.find(',');
    std::string_view part = trim(rest.substr(0, comma));
    static const std::pair<std::string_view, Op> kOps[] = {
        {">=", Op::ge}, {"<=", Op::le}, {"==", Op::eq}, {">", Op::gt}, {"<", Op::lt}};
    Op op = Op::eq;
    for (const auto& [symbol, o] : kOps) {
      if (part.substr(0, symbol.size()) == symbol) {
        op = o;
        part = trim(part.substr(symbol.size()));
        break;
      }
    }
    const std::optional<Version> v = parse_exact(part);
    if (!v)
      throw std::invalid_argument("'" + std::string(part) +
                                  "' is not a version (write dotted numbers such as 12, 1.13.1; constraints as "
                                  ">=1.13, <2; several separated by commas)");
    spec.constraints_.push_back({op, *v});
    if (comma == std::string_view::npos) break;
    rest = rest.substr(comma + 1);
  }
  return spec;
}

bool VersionSpec::matches(const Version& v) const {
  for (const Constraint& c : constraints_) {
    bool ok = false;
    switch (c.op) {
      case Op::eq:  // "1.13" pins 1.13.x: compare only the components written
        ok = v.size() >= c.version.size() ? std::equal(c.version.begin(), c.version.end(), v.begin())
                                          : compare(v, c.version) == 0;
        break;
      case Op::ge:
        ok = compare(v, c.version) >= 0;
        break;
      case Op::gt:
        ok = compare(v, c.version) > 0;
        break;
      case Op::le:
        ok = compare(v, c.version) <= 0;
        break;
      case Op::lt:
        ok = compare(v, c.version) < 0;
        break;
    }
    if (!ok) return false;
  }
  return true;
}

}  // namespace torchexam
