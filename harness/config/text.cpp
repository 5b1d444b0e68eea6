// text.cpp — the text helpers of text.hpp, and parse_duration, parse_size
// and closest_match of config.hpp.
#include "config/text.hpp"

#include "config/config.hpp"

#include <algorithm>
#include <cctype>
#include <climits>
#include <cmath>
#include <iterator>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace torchexam::config {
namespace detail {
namespace {

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A non-negative decimal written with digits and at most one '.': "90", "1.5".
std::optional<double> parse_decimal(std::string_view text) {
  if (text.empty() || !is_digit(text.front())) return std::nullopt;
  if (!std::all_of(text.begin(), text.end(), [](char c) { return is_digit(c) || c == '.'; })) {
    return std::nullopt;
  }
  return parse_number(text);
}

// The length of the leading run of digits and dots.
size_t decimal_prefix_length(std::string_view text) {
  size_t n = 0;
  while (n < text.size() && (is_digit(text[n]) || text[n] == '.')) ++n;
  return n;
}

// Levenshtein distance: insertions, deletions and substitutions cost 1.
size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  std::iota(row.begin(), row.end(), size_t{0});
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];  // distance(a[0, i-1), b[0, j-1))
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t above = row[j];
      const size_t substitution = diagonal + (a[i - 1] == b[j - 1] ? 0 : 1);
      row[j] = std::min({above + 1, row[j - 1] + 1, substitution});
      diagonal = above;
    }
  }
  return row.back();
}

}  // namespace

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

std::string lowercase(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

// The whole of `text` as a finite number, e.g. "0.91", "-3", "1e-3".
std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || stop != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

// Seconds in `text`, or nullopt. The grammar: a bare decimal (seconds), or
// one or more <decimal><unit> with units h, m, s, each at most once and in
// that order.
std::optional<double> try_parse_duration(std::string_view text) {
  text = trim(text);
  if (auto seconds = parse_decimal(text)) return seconds;
  struct Unit {
    char symbol;
    double seconds;
  };
  static constexpr Unit kUnits[] = {{'h', 3600}, {'m', 60}, {'s', 1}};
  double total = 0;
  size_t next_unit = 0;  // units must come in the order of kUnits
  while (!text.empty()) {
    const size_t length = decimal_prefix_length(text);
    const std::optional<double> amount = parse_decimal(text.substr(0, length));
    text.remove_prefix(length);
    if (!amount || text.empty()) return std::nullopt;  // "h", "1h30"
    while (next_unit < std::size(kUnits) && kUnits[next_unit].symbol != text.front()) ++next_unit;
    if (next_unit == std::size(kUnits)) return std::nullopt;  // unknown, repeated or out of order
    total += *amount * kUnits[next_unit].seconds;
    ++next_unit;
    text.remove_prefix(1);
  }
  if (next_unit == 0 || !std::isfinite(total)) return std::nullopt;  // empty text
  return total;
}

// Bytes in `text`, or nullopt with `why` set. Sizes are whole numbers with
// binary units (B, KiB, MiB, GiB) or none (bytes). "4G", "4GB", "4K", "4MB",
// ... are rejected rather than guessed: 1000 or 1024 is exactly the kind of
// question a memory limit should not leave open, and the message says what
// to write instead. Fractions ("1.5GiB") are rejected too: write 1536MiB.
std::optional<uint64_t> try_parse_size(std::string_view text, std::string& why) {
  text = trim(text);
  size_t digits = 0;
  while (digits < text.size() && is_digit(text[digits])) ++digits;
  const std::string_view number = text.substr(0, digits);
  const std::string_view unit = text.substr(digits);
  why = kSizeHelp;

  static const std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1}, {"B", 1}, {"KiB", kKiB}, {"MiB", kMiB}, {"GiB", kGiB}};
  const auto known = std::find_if(std::begin(kUnits), std::end(kUnits),
                                  [&](const auto& entry) { return entry.first == unit; });
  if (known == std::end(kUnits)) {
    static const std::pair<std::string_view, std::string_view> kAmbiguous[] = {
        {"k", "KiB"}, {"kb", "KiB"}, {"m", "MiB"}, {"mb", "MiB"}, {"g", "GiB"}, {"gb", "GiB"}};
    for (const auto& [decimal, binary] : kAmbiguous) {
      if (lowercase(unit) == decimal && !number.empty()) {
        why = "'" + std::string(unit) + "' is ambiguous (1000 or 1024?); write " +
              std::string(number) + std::string(binary);
      }
    }
    return std::nullopt;
  }
  const std::optional<uint64_t> count = parse_integer<uint64_t>(number);
  if (!count) return std::nullopt;
  if (*count > UINT64_MAX / known->second) {
    why = "too large";
    return std::nullopt;
  }
  return *count * known->second;
}

bool is_valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
  });
}

}  // namespace detail

double parse_duration(std::string_view text) {
  if (auto seconds = detail::try_parse_duration(text)) {
    if (*seconds > detail::kMaxDurationSeconds)
      throw std::invalid_argument("duration '" + std::string(text) + "' is longer than " + detail::kMaxDurationText);
    return *seconds;
  }
  throw std::invalid_argument("invalid duration '" + std::string(text) + "': " + detail::kDurationHelp);
}

uint64_t parse_size(std::string_view text) {
  std::string why;
  if (auto bytes = detail::try_parse_size(text, why)) return *bytes;
  throw std::invalid_argument("invalid size '" + std::string(text) + "': " + why);
}

std::string closest_match(std::string_view word, const std::vector<std::string>& known) {
  if (word.empty()) return "";
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  const std::string lower_word = detail::lowercase(word);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : known) {
    // The lengths' difference is a lower bound of the distance: a word far
    // longer than every name (a pasted 4 MB value) costs nothing.
    const size_t longer = std::max(word.size(), candidate.size());
    if (longer - std::min(word.size(), candidate.size()) > limit) continue;
    const size_t distance = detail::edit_distance(lower_word, detail::lowercase(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

}  // namespace torchexam::config
