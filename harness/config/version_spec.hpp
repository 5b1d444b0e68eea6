// version_spec.hpp — version requirements as environment.yaml pins them:
// "1.13.1" (exactly that release), "1.13" (any 1.13.x), ">=12",
// ">=1.13, <2.1" (every comma-separated constraint must hold). Operators:
// >=, >, <=, <, == (and none, which means ==, with the prefix rule above).
// Versions are dotted non-negative integers; a found version such as
// "12.2.0" or "1.13.1+dfsg-4" is read up to its first character that is
// neither a digit nor a dot.
//
// Failure: parse() throws std::invalid_argument with the reason. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam {

using Version = std::vector<long>;

// "12.2.0" -> {12, 2, 0}; "1.13.1+dfsg-4" -> {1, 13, 1}; nullopt without a leading number.
std::optional<Version> parse_version(std::string_view text);
std::string to_string(const Version& v);

class VersionSpec {
 public:
  VersionSpec() = default;  // empty: anything matches
  static VersionSpec parse(std::string_view text);

  bool empty() const { return constraints_.empty(); }
  bool matches(const Version& v) const;
  const std::string& text() const { return text_; }

 private:
  enum class Op { eq, ge, gt, le, lt };
  struct Constraint {
    Op op;
    Version version;
  };
  std::string text_;
  std::vector<Constraint> constraints_;
};

}  // namespace torchexam
