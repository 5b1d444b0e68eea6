// verdict.hpp — how a graded run ended, as DESIGN.md lists them.
//
// internal_error is the harness's own fault and is never blamed on the
// candidate; every other verdict describes what the candidate's code did.
#pragma once

#include <optional>
#include <string_view>

namespace torchexam {

enum class Verdict {
  ok,
  compile_error,
  runtime_error,
  timeout,
  memory_limit,
  killed,
  forbidden,
  contract,
  internal_error,
};

std::string_view to_string(Verdict v);
std::optional<Verdict> parse_verdict(std::string_view s);

}  // namespace torchexam
