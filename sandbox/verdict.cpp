#include "sandbox/verdict.hpp"

#include <array>
#include <utility>

namespace torchexam {
namespace {
constexpr std::array<std::pair<Verdict, std::string_view>, 11> kNames{{
    {Verdict::ok, "ok"},
    {Verdict::compile_error, "compile_error"},
    {Verdict::runtime_error, "runtime_error"},
    {Verdict::timeout, "timeout"},
    {Verdict::memory_limit, "memory_limit"},
    {Verdict::killed, "killed"},
    {Verdict::forbidden, "forbidden"},
    {Verdict::contract, "contract"},
    {Verdict::internal_error, "internal_error"},
    {Verdict::cpu_limit, "cpu_limit"},
    {Verdict::output_limit, "output_limit"},
}};
}  // namespace

std::string_view to_string(Verdict v) {
  for (const auto& [verdict, name] : kNames)
    if (verdict == v) return name;
  return "internal_error";
}

int precedence(Verdict v) {
  switch (v) {
    case Verdict::timeout: return 9;
    case Verdict::memory_limit: return 8;
    case Verdict::forbidden: return 7;
    case Verdict::cpu_limit: return 6;
    case Verdict::output_limit: return 5;
    case Verdict::killed: return 4;
    case Verdict::runtime_error:
    case Verdict::contract:
    case Verdict::compile_error: return 3;
    case Verdict::internal_error: return 2;
    case Verdict::ok: return 0;
  }
  return 0;
}

std::optional<Verdict> parse_verdict(std::string_view s) {
  for (const auto& [verdict, name] : kNames)
    if (name == s) return verdict;
  return std::nullopt;
}

}  // namespace torchexam
