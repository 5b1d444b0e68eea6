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
  cpu_limit,     // the job used its CPU-time limit (SIGXCPU, or killed at the hard limit)
  output_limit,  // a file or the captured output grew past its limit (SIGXFSZ)
};

std::string_view to_string(Verdict v);

// When several things went wrong, the verdict is the one of highest
// precedence: timeout > memory_limit > forbidden > cpu_limit > output_limit >
// killed > runtime_error = contract > ok. internal_error (the harness's
// own fault) ranks below every candidate-caused verdict: a job that was
// OOM-killed and then confused the harness is a memory_limit.
int precedence(Verdict v);
std::optional<Verdict> parse_verdict(std::string_view s);

}  // namespace torchexam
