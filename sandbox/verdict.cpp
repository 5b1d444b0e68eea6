#include "verdict.hpp"

#include <array>
#include <utility>

namespace torchexam {
namespace {
constexpr std::array<std::pair<Verdict, std::string_view>, 9> kNames{{
    {Verdict::ok, "ok"},
    {Verdict::compile_error, "compile_error"},
    {Verdict::runtime_error, "runtime_error"},
    {Verdict::timeout, "timeout"},
    {Verdict::memory_limit, "memory_limit"},
    {Verdict::killed, "killed"},
    {Verdict::forbidden, "forbidden"},
    {Verdict::contract, "contract"},
    {Verdict::internal_error, "internal_error"},
}};
}  // namespace

std::string_view to_string(Verdict v) {
  for (const auto& [verdict, name] : kNames)
    if (verdict == v) return name;
  return "internal_error";
}

std::optional<Verdict> parse_verdict(std::string_view s) {
  for (const auto& [verdict, name] : kNames)
    if (name == s) return verdict;
  return std::nullopt;
}

}  // namespace torchexam
