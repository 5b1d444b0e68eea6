// text.hpp — the config loader's text helpers (internal to harness/config).
//
// Trimming, lower-casing, joining, whole-text numbers, durations and sizes
// that report failure instead of throwing, and the names the schema accepts.
// The throwing forms callers outside the loader use (parse_duration,
// parse_size, closest_match) are declared in config.hpp and defined in
// text.cpp beside these.
//
// Pure functions: no state, safe from any thread, nothing throws except
// std::bad_alloc.
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <vector>

namespace torchexam::config::detail {

inline constexpr uint64_t kKiB = uint64_t{1} << 10;
inline constexpr uint64_t kMiB = uint64_t{1} << 20;
inline constexpr uint64_t kGiB = uint64_t{1} << 30;

// The longest duration anything here takes: a year (366 days). The harness
// turns durations into clock types (int64 nanoseconds overflow after about
// 292 years, undefined behaviour for a double), so a longer one is refused
// as surely a typo rather than carried to where it would overflow.
inline constexpr double kMaxDurationSeconds = 366.0 * 24 * 3600;
inline constexpr const char* kMaxDurationText = "8784h (a year)";

// What a duration or a size may look like, for messages.
inline constexpr const char* kDurationHelp =
    "use hours, minutes and seconds in that order, e.g. 90s, 45m, 5h, 1h30m, 2m30s, "
    "1.5h, or a bare number of seconds";
inline constexpr const char* kSizeHelp =
    "use a whole number with B, KiB, MiB or GiB, e.g. 100B, 1024KiB, 512MiB, 4GiB, "
    "or a bare number of bytes";

std::string_view trim(std::string_view text);
std::string lowercase(std::string_view text);
std::string join(const std::vector<std::string>& items, std::string_view separator);

// The whole of `text` as an integer of type Int (no sign for unsigned types).
template <typename Int>
std::optional<Int> parse_integer(std::string_view text) {
  Int value{};
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || stop != end) return std::nullopt;
  return value;
}

// The whole of `text` as a finite number, e.g. "0.91", "-3", "1e-3".
std::optional<double> parse_number(std::string_view text);

// parse_duration and parse_size of config.hpp without the exception; `why`
// says what is wrong with a size (kSizeHelp, or something more precise).
std::optional<double> try_parse_duration(std::string_view text);
std::optional<uint64_t> try_parse_size(std::string_view text, std::string& why);

// [a-z0-9_-]+: environment, plugin and data set names.
bool is_valid_name(std::string_view name);
inline constexpr const char* kNameRule = "use only a-z, 0-9, '_' and '-'";  // for read_string_that

}  // namespace torchexam::config::detail
