// config.cpp — loads environment.yaml and task.yaml into the model of config.hpp.
//
// How this file is organised, top to bottom:
//   1. Text helpers: trimming, numbers, edit distance, and the public
//      parse_duration, parse_size and closest_match.
//   2. Mark, ConfigError, Ladder and Environment members.
//   3. Stage one, read_yaml(): a file becomes a YAML::Node whose nodes keep
//      their line and column, or a Diagnostic (missing file, syntax error).
//   4. Stage two, building blocks: Context (the file being validated and the
//      list problems go to), the typed readers (read_string, read_int,
//      read_duration, ...) that convert one value or report "key 'k' must
//      be ..., got ...", and MapReader, which dispatches each key of a
//      mapping to its handler and reports unknown, duplicate and missing keys.
//   5. Stage two, the schema: read_task() and read_environment().
//   6. load_environment(): runs both stages on every file, then throws
//      ConfigError once with every diagnostic found.
//
// Error policy: nothing in here throws until the very end of
// load_environment(); yaml-cpp's exceptions are caught where they can arise
// (parsing, and around each file's validation) and become diagnostics.
#include "config/config.hpp"

#include "sandbox/layers.hpp"  // sandbox layer names for the floor

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <cmath>
#include <fstream>
#include <functional>
#include <numeric>
#include <optional>
#include <sstream>
#include <system_error>
#include <utility>

namespace torchexam::config {

namespace fs = std::filesystem;

namespace {

constexpr int kMaxScore = 5;  // a task scores 0..5: one point per ladder threshold
constexpr int kMinThreads = 1;
constexpr int kMaxThreads = 64;
constexpr uint64_t kKiB = uint64_t{1} << 10;
constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kMinMemoryLimit = 64 * kMiB;
// The longest duration anything here takes: a year (366 days). The harness
// turns durations into clock types (int64 nanoseconds overflow after about
// 292 years, undefined behaviour for a double), so a longer one is refused
// as surely a typo rather than carried to where it would overflow.
constexpr double kMaxDurationSeconds = 366.0 * 24 * 3600;
constexpr const char* kMaxDurationText = "8784h (a year)";

constexpr const char* kDurationHelp =
    "use hours, minutes and seconds in that order, e.g. 90s, 45m, 5h, 1h30m, 2m30s, "
    "1.5h, or a bare number of seconds";
constexpr const char* kSizeHelp =
    "use a whole number with B, KiB, MiB or GiB, e.g. 100B, 1024KiB, 512MiB, 4GiB, "
    "or a bare number of bytes";

// ---------------------------------------------------------------------------
// 1. Text helpers
// ---------------------------------------------------------------------------

std::string_view trim(std::string_view text) {
  const auto is_space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  return text;
}

bool is_digit(char c) { return c >= '0' && c <= '9'; }

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
std::optional<double> parse_number(std::string_view text) {
  double value = 0;
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  if (text.empty() || error != std::errc{} || stop != end || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

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

double parse_duration(std::string_view text) {
  if (auto seconds = try_parse_duration(text)) {
    if (*seconds > kMaxDurationSeconds)
      throw std::invalid_argument("duration '" + std::string(text) + "' is longer than " + kMaxDurationText);
    return *seconds;
  }
  throw std::invalid_argument("invalid duration '" + std::string(text) + "': " + kDurationHelp);
}

uint64_t parse_size(std::string_view text) {
  std::string why;
  if (auto bytes = try_parse_size(text, why)) return *bytes;
  throw std::invalid_argument("invalid size '" + std::string(text) + "': " + why);
}

std::string closest_match(std::string_view word, const std::vector<std::string>& known) {
  if (word.empty()) return "";
  const size_t limit = std::max<size_t>(2, word.size() / 3);
  const std::string lower_word = lowercase(word);
  std::string best;
  size_t best_distance = limit + 1;
  for (const std::string& candidate : known) {
    const size_t distance = edit_distance(lower_word, lowercase(candidate));
    if (distance < best_distance) {
      best = candidate;
      best_distance = distance;
    }
  }
  return best;
}

// ---------------------------------------------------------------------------
// 2. Model members
// ---------------------------------------------------------------------------

std::string Mark::str() const {
  if (line == 0) return file;
  std::string out = file + ":" + std::to_string(line);
  if (column != 0) out += ":" + std::to_string(column);
  return out;
}

namespace {

std::string describe_all(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += d.where.str() + ": " + d.message;
  }
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(describe_all(diagnostics)), diagnostics_(std::move(diagnostics)) {}

int Ladder::score(double metric) const {
  if (std::isnan(metric)) return 0;
  return static_cast<int>(std::count_if(thresholds.begin(), thresholds.end(), [&](double t) {
    return higher_is_better ? metric >= t : metric <= t;
  }));
}

const char* to_string(Pins::Cuda c) {
  switch (c) {
    case Pins::Cuda::none: return "none";
    case Pins::Cuda::optional: return "optional";
    case Pins::Cuda::required: return "required";
  }
  return "none";
}

const char* to_string(Grading::Backend b) { return b == Grading::Backend::slurm ? "slurm" : "local"; }

std::string Environment::unknown_task(std::string_view id, std::string_view where) const {
  std::vector<std::string> ids;
  for (const auto& t : tasks) ids.push_back(t.id);
  std::string guess = closest_match(id, ids);
  if (guess.empty() && !id.empty()) {  // a part of one name: "fashion" for fashion_mnist
    std::vector<std::string> with;
    for (const auto& t : ids)
      if (t.find(id) != std::string::npos) with.push_back(t);
    if (with.size() == 1) guess = with.front();
  }
  return "no task '" + std::string(id) + "' in " + std::string(where) +
         (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (tasks: " + join(ids, ", ") + ")";
}

const TaskConfig* Environment::find_task(std::string_view id) const {
  for (const TaskConfig& task : tasks) {
    if (task.id == id) return &task;
  }
  return nullptr;
}

const DataSet* Environment::find_data(std::string_view name) const {
  for (const DataSet& d : data) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

namespace {

// ---------------------------------------------------------------------------
// 3. Stage one: text to nodes
// ---------------------------------------------------------------------------

// yaml-cpp counts lines and columns from 0 and uses -1 for "unknown".
Mark to_mark(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return Mark{file};
  return Mark{file, mark.line + 1, mark.column + 1};
}

// The document in `file`, or nullopt after adding a diagnostic. `expected`
// says what the file should hold, for the message when it is missing.
std::optional<YAML::Node> read_yaml(const fs::path& file, std::string_view expected,
                                    std::vector<Diagnostic>& out) {
  const std::string shown = file.string();
  std::error_code error;
  if (!fs::is_regular_file(file, error)) {
    const bool exists = fs::exists(file, error);
    out.push_back({Mark{shown}, (exists ? "not a regular file; expected " : "file not found; expected ") +
                                    std::string(expected) + " here"});
    return std::nullopt;
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    out.push_back({Mark{shown}, "cannot open the file for reading"});
    return std::nullopt;
  }
  std::ostringstream text;
  text << in.rdbuf();
  try {
    return YAML::Load(text.str());
  } catch (const YAML::Exception& e) {  // ParserException for syntax errors: a position and a message
    out.push_back({to_mark(shown, e.mark), e.msg});
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------
// 4. Stage two: building blocks
// ---------------------------------------------------------------------------

// The file being validated and where its problems go.
class Context {
 public:
  Context(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  const std::string& file() const { return file_; }
  // The folder of the file, as the user spelled it.
  std::string folder() const { return fs::path(file_).parent_path().string(); }

  Mark at(const YAML::Node& node) const {
    try {
      return to_mark(file_, node.Mark());
    } catch (const YAML::Exception&) {  // an undefined node has no position
      return Mark{file_};
    }
  }
  void report(const Mark& where, std::string message) { out_.push_back({where, std::move(message)}); }
  void report(const YAML::Node& node, std::string message) { report(at(node), std::move(message)); }

 private:
  std::string file_;
  std::vector<Diagnostic>& out_;
};

// One key of a mapping and its value.
struct Entry {
  std::string key;
  YAML::Node value;
  Mark where;  // the value's position; the key's when the value is empty,
               // as yaml-cpp then gives the position of the next token
};

// A string together with where it was written.
struct Located {
  std::string text;
  Mark where;
};

template <typename T, typename U>
void set(T& target, std::optional<U> value) {
  if (value) target = std::move(*value);
}

// How a value reads in "got ...": the scalar as written, or its kind.
std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Scalar:
      return "'" + node.Scalar() + "'";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a map";
    default:
      return "nothing";
  }
}

void type_error(Context& cx, const Entry& e, std::string_view expected, std::string_view hint = {}) {
  std::string message = "key '" + e.key + "' must be " + std::string(expected) + ", got " + describe(e.value);
  if (!hint.empty()) message += " (" + std::string(hint) + ")";
  cx.report(e.where, std::move(message));
}

std::optional<std::string> read_string(Context& cx, const Entry& e) {
  if (!e.value.IsScalar()) {
    type_error(cx, e, "a string");
    return std::nullopt;
  }
  if (e.value.Scalar().empty()) {
    cx.report(e.where, "key '" + e.key + "' must not be empty");
    return std::nullopt;
  }
  return e.value.Scalar();
}

std::string range_text(int min, int max) {
  if (max == INT_MAX) return "at least " + std::to_string(min);
  return "between " + std::to_string(min) + " and " + std::to_string(max);
}

std::optional<int> read_int(Context& cx, const Entry& e, int min, int max) {
  const std::optional<long long> value =
      e.value.IsScalar() ? parse_integer<long long>(e.value.Scalar()) : std::nullopt;
  if (!value) {
    type_error(cx, e, "an integer");
    return std::nullopt;
  }
  if (*value < min || *value > max) {
    cx.report(e.where, "key '" + e.key + "' must be " + range_text(min, max) + ", got " + describe(e.value));
    return std::nullopt;
  }
  return static_cast<int>(*value);
}

std::optional<uint64_t> read_unsigned(Context& cx, const Entry& e) {
  const std::optional<uint64_t> value =
      e.value.IsScalar() ? parse_integer<uint64_t>(e.value.Scalar()) : std::nullopt;
  if (!value) type_error(cx, e, "a non-negative integer");
  return value;
}

// A duration longer than zero, in seconds.
std::optional<double> read_duration(Context& cx, const Entry& e) {
  const std::optional<double> seconds =
      e.value.IsScalar() ? try_parse_duration(e.value.Scalar()) : std::nullopt;
  if (!seconds) {
    type_error(cx, e, "a duration", kDurationHelp);
    return std::nullopt;
  }
  if (*seconds <= 0) {
    cx.report(e.where, "key '" + e.key + "' must be longer than zero, got " + describe(e.value));
    return std::nullopt;
  }
  if (*seconds > kMaxDurationSeconds) {
    cx.report(e.where, "key '" + e.key + "' must be at most " + kMaxDurationText + ", got " + describe(e.value));
    return std::nullopt;
  }
  return seconds;
}

// A size of at least `min` bytes.
std::optional<uint64_t> read_size(Context& cx, const Entry& e, uint64_t min, std::string_view min_text) {
  std::string why = kSizeHelp;
  const std::optional<uint64_t> bytes =
      e.value.IsScalar() ? try_parse_size(e.value.Scalar(), why) : std::nullopt;
  if (!bytes) {
    type_error(cx, e, "a size", why);
    return std::nullopt;
  }
  if (*bytes < min) {
    cx.report(e.where, "key '" + e.key + "' must be at least " + std::string(min_text) + ", got " +
                           describe(e.value));
    return std::nullopt;
  }
  return bytes;
}

// A list of scalars, each kept with its position.
std::optional<std::vector<Located>> read_string_list(Context& cx, const Entry& e) {
  if (!e.value.IsSequence()) {
    type_error(cx, e, "a list of strings");
    return std::nullopt;
  }
  std::vector<Located> items;
  bool ok = true;
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    if (!item.IsScalar()) {
      cx.report(item, "entry " + std::to_string(i + 1) + " of '" + e.key + "' must be a string, got " +
                          describe(item));
      ok = false;
      continue;
    }
    items.push_back({item.Scalar(), cx.at(item)});
  }
  if (!ok) return std::nullopt;
  return items;
}

std::vector<std::string> texts(const std::vector<Located>& items) {
  std::vector<std::string> out;
  for (const Located& item : items) out.push_back(item.text);
  return out;
}

// A flat map of scalars to scalars, kept as strings.
std::optional<std::map<std::string, std::string>> read_string_map(Context& cx, const Entry& e) {
  if (!e.value.IsMap()) {
    type_error(cx, e, "a map of names to values");
    return std::nullopt;
  }
  std::map<std::string, std::string> out;
  bool ok = true;
  for (const auto& pair : e.value) {
    if (!pair.first.IsScalar()) {
      cx.report(pair.first, "names in '" + e.key + "' must be strings, got " + describe(pair.first));
      ok = false;
    } else if (!pair.second.IsScalar()) {
      cx.report(pair.second, "'" + pair.first.Scalar() + "' in '" + e.key + "' must be a single value, got " +
                                 describe(pair.second));
      ok = false;
    } else if (!out.emplace(pair.first.Scalar(), pair.second.Scalar()).second) {
      cx.report(pair.first, "'" + pair.first.Scalar() + "' appears twice in '" + e.key + "'");
      ok = false;
    }
  }
  if (!ok) return std::nullopt;
  return out;
}

// A file named by the value, relative to `dir`; it must exist.
std::optional<fs::path> read_existing_file(Context& cx, const Entry& e, const fs::path& dir) {
  const std::optional<std::string> name = read_string(cx, e);
  if (!name) return std::nullopt;
  const fs::path path = (dir / *name).lexically_normal();
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    cx.report(e.where, "key '" + e.key + "' names '" + *name + "', which is not a file in " + cx.folder());
    return std::nullopt;
  }
  return path;
}

// "[0.5, 0.7, 0.6]" as written in the file.
std::string show_list(const YAML::Node& list) {
  std::vector<std::string> items;
  for (const auto& item : list) items.push_back(item.IsScalar() ? item.Scalar() : describe(item));
  return "[" + join(items, ", ") + "]";
}

std::optional<Ladder> read_ladder(Context& cx, const Entry& e) {
  if (!e.value.IsSequence()) {
    type_error(cx, e, "a list of " + std::to_string(kMaxScore) + " numbers");
    return std::nullopt;
  }
  Ladder ladder;
  ladder.where = e.where;
  if (e.value.size() != static_cast<size_t>(kMaxScore)) {
    cx.report(ladder.where, "ladder must have exactly " + std::to_string(kMaxScore) +
                                " thresholds, the metric needed for scores 1 to 5; got " +
                                std::to_string(e.value.size()));
    return std::nullopt;
  }
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    const std::optional<double> value = item.IsScalar() ? parse_number(item.Scalar()) : std::nullopt;
    if (!value) {
      cx.report(item, "ladder entry " + std::to_string(i + 1) + " must be a number, got " + describe(item));
      return std::nullopt;
    }
    ladder.thresholds.push_back(*value);
  }
  const auto& t = ladder.thresholds;
  const bool increasing = std::adjacent_find(t.begin(), t.end(), std::greater_equal<>()) == t.end();
  const bool decreasing = std::adjacent_find(t.begin(), t.end(), std::less_equal<>()) == t.end();
  if (!increasing && !decreasing) {
    cx.report(ladder.where,
              "ladder must be strictly increasing (a higher metric is better) or strictly decreasing "
              "(a lower metric is better), got " + show_list(e.value));
    return std::nullopt;
  }
  ladder.higher_is_better = increasing;
  return ladder;
}

// Reads one YAML mapping: each key goes to the handler registered for it;
// unknown, duplicate and missing required keys become diagnostics. Handlers
// run in the order the keys appear in the file.
class MapReader {
 public:
  using Handler = std::function<void(const Entry&)>;

  // `section` names the mapping in messages: "task.yaml", "'compiler'".
  MapReader(Context& cx, std::string section) : cx_(cx), section_(std::move(section)) {}

  MapReader& required(std::string key, Handler handler) {
    fields_.push_back({std::move(key), true, std::move(handler)});
    return *this;
  }
  MapReader& optional(std::string key, Handler handler) {
    fields_.push_back({std::move(key), false, std::move(handler)});
    return *this;
  }
  // A word authors reach for instead of a known key, too far from it for
  // the edit distance to suggest it ("thresholds" for "ladder").
  MapReader& alias(std::string word, std::string key) {
    aliases_.emplace(std::move(word), std::move(key));
    return *this;
  }

  // A null node (an empty file, "compiler:") reads as an empty mapping.
  void read(const YAML::Node& map) {
    if (!map.IsMap() && !map.IsNull()) {
      cx_.report(map, section_ + " must be a map of keys to values, got " + describe(map));
      return;
    }
    std::map<std::string, int> seen;  // key -> line of its first appearance
    if (map.IsMap()) {
      for (const auto& pair : map) read_pair(pair.first, pair.second, seen);
    }
    for (const Field& field : fields_) {
      if (field.required && !seen.contains(field.key)) {
        cx_.report(map, "missing required key '" + field.key + "'");
      }
    }
  }

 private:
  struct Field {
    std::string key;
    bool required;
    Handler handler;
  };

  void read_pair(const YAML::Node& key, const YAML::Node& value, std::map<std::string, int>& seen) {
    if (!key.IsScalar()) {
      cx_.report(key, "keys in " + section_ + " must be names, got " + describe(key));
      return;
    }
    const std::string& name = key.Scalar();
    const auto [first, fresh] = seen.emplace(name, cx_.at(key).line);
    if (!fresh) {
      cx_.report(key, "duplicate key '" + name + "' in " + section_ + " (first at line " +
                          std::to_string(first->second) + ")");
      return;
    }
    const auto field = std::find_if(fields_.begin(), fields_.end(),
                                     [&](const Field& f) { return f.key == name; });
    if (field == fields_.end()) {
      report_unknown(key);
      return;
    }
    field->handler(Entry{name, value, cx_.at(value.IsNull() ? key : value)});
  }

  void report_unknown(const YAML::Node& key) {
    const std::string& name = key.Scalar();
    std::string message = "unknown key '" + name + "' in " + section_;
    if (const std::string suggestion = suggest(name); !suggestion.empty()) {
      message += "; did you mean '" + suggestion + "'?";
    } else {
      message += "; known keys: " + join(known_keys(), ", ");
    }
    cx_.report(key, std::move(message));
  }

  std::string suggest(const std::string& name) const {
    if (const auto alias = aliases_.find(lowercase(name)); alias != aliases_.end()) return alias->second;
    return closest_match(name, known_keys());
  }

  std::vector<std::string> known_keys() const {
    std::vector<std::string> keys;
    for (const Field& field : fields_) keys.push_back(field.key);
    return keys;
  }

  Context& cx_;
  std::string section_;
  std::vector<Field> fields_;
  std::map<std::string, std::string> aliases_;
};

// ---------------------------------------------------------------------------
// 5. Stage two: the schema
// ---------------------------------------------------------------------------

bool is_valid_name(std::string_view name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' || c == '-';
  });
}

// A task id names a folder directly inside the environment's folder.
bool is_folder_name(std::string_view id) {
  return !id.empty() && id != "." && id != ".." && id.find_first_of("/\\") == std::string_view::npos;
}

TaskConfig read_task(Context& cx, const YAML::Node& root, std::string id, fs::path dir) {
  TaskConfig task;
  task.id = std::move(id);
  task.dir = std::move(dir);
  MapReader(cx, "task.yaml")
      .required("title", [&](const Entry& e) { set(task.title, read_string(cx, e)); })
      .required("statement", [&](const Entry& e) { set(task.statement, read_existing_file(cx, e, task.dir)); })
      .required("plugin",
                [&](const Entry& e) {
                  const std::optional<std::string> name = read_string(cx, e);
                  if (name && !is_valid_name(*name)) {
                    cx.report(e.where, "key 'plugin' must be a plugin name (a-z, 0-9, '_', '-'), got '" + *name + "'");
                  } else {
                    set(task.plugin, name);
                  }
                  task.plugin_mark = e.where;
                })
      .required("metric",
                [&](const Entry& e) {
                  set(task.metric, read_string(cx, e));
                  task.metric_mark = e.where;
                })
      .required("ladder", [&](const Entry& e) { set(task.ladder, read_ladder(cx, e)); })
      .required("time_budget", [&](const Entry& e) { set(task.time_budget_s, read_duration(cx, e)); })
      .required("memory_limit",
                [&](const Entry& e) { set(task.memory_limit_bytes, read_size(cx, e, kMinMemoryLimit, "64MiB")); })
      .optional("seed", [&](const Entry& e) { set(task.seed, read_unsigned(cx, e)); })
      .required("starter", [&](const Entry& e) { set(task.starter, read_existing_file(cx, e, task.dir)); })
      .optional("reference", [&](const Entry& e) { set(task.reference, read_existing_file(cx, e, task.dir)); })
      .optional("options", [&](const Entry& e) { set(task.options, read_string_map(cx, e)); })
      .optional("threads", [&](const Entry& e) { set(task.threads, read_int(cx, e, kMinThreads, kMaxThreads)); })
      .optional("data",
                [&](const Entry& e) {
                  set(task.data, read_string(cx, e));
                  task.data_mark = e.where;
                })
      .alias("thresholds", "ladder")
      .alias("threshold", "ladder")
      .alias("levels", "ladder")
      .alias("time_limit", "time_budget")
      .alias("memory", "memory_limit")
      .read(root);
  return task;
}

bool is_sha256(const std::string& s) {
  return s.size() == 64 && std::all_of(s.begin(), s.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
         });
}

std::optional<DataItem> read_data_item(Context& cx, const YAML::Node& node) {
  if (!node.IsMap()) {
    cx.report(node, "each entry of 'files' must be a map with 'path' (or 'tree') and 'sha256', got " + describe(node));
    return std::nullopt;
  }
  DataItem item;
  item.where = cx.at(node);
  bool have_path = false;
  MapReader(cx, "a data file")
      .optional("path",
                [&](const Entry& e) {
                  set(item.path, read_string(cx, e));
                  have_path = !item.path.empty();
                })
      .optional("tree",
                [&](const Entry& e) {
                  set(item.path, read_string(cx, e));
                  item.tree = true;
                  have_path = !item.path.empty();
                })
      .required("sha256",
                [&](const Entry& e) {
                  const std::optional<std::string> hash = read_string(cx, e);
                  if (hash && !is_sha256(*hash))
                    cx.report(e.where, "key 'sha256' must be 64 lower-case hex digits, got '" + *hash + "'");
                  else
                    set(item.sha256, hash);
                })
      .read(node);
  if (!have_path) {
    cx.report(item.where, "a data file needs 'path' (one file) or 'tree' (a folder)");
    return std::nullopt;
  }
  if (item.path.front() == '/' || item.path.find("..") != std::string::npos) {
    cx.report(item.where, "'" + item.path + "' must be a relative path inside the package, without '..'");
    return std::nullopt;
  }
  return item;
}

std::optional<std::vector<DataSet>> read_data_list(Context& cx, const Entry& e) {
  if (!e.value.IsSequence()) {
    type_error(cx, e, "a list of data sets");
    return std::nullopt;
  }
  std::vector<DataSet> out;
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node node = e.value[i];
    if (!node.IsMap()) {
      cx.report(node, "entry " + std::to_string(i + 1) + " of 'data' must be a map, got " + describe(node));
      continue;
    }
    DataSet d;
    d.where = cx.at(node);
    MapReader(cx, "a data set")
        .required("name",
                  [&](const Entry& n) {
                    const std::optional<std::string> name = read_string(cx, n);
                    if (name && !is_valid_name(*name))
                      cx.report(n.where, "a data set name must use only a-z, 0-9, '_' and '-', got '" + *name + "'");
                    else
                      set(d.name, name);
                  })
        .optional("apt", [&](const Entry& a) { set(d.apt, read_string(cx, a)); })
        .optional("npm", [&](const Entry& n) { set(d.npm, read_string(cx, n)); })
        .optional("installed", [&](const Entry& n) { set(d.installed, read_string(cx, n)); })
        .required("files",
                  [&](const Entry& f) {
                    if (!f.value.IsSequence() || f.value.size() == 0) {
                      type_error(cx, f, "a non-empty list of files");
                      return;
                    }
                    for (size_t j = 0; j < f.value.size(); ++j)
                      if (auto item = read_data_item(cx, f.value[j])) d.items.push_back(std::move(*item));
                  })
        .read(node);
    if (int(!d.apt.empty()) + int(!d.npm.empty()) + int(!d.installed.empty()) != 1)
      cx.report(d.where,
                "data set '" + d.name +
                    "' needs exactly one source: 'apt: PACKAGE', 'npm: PACKAGE@VERSION' or 'installed: PACKAGE'");
    for (const auto& other : out)
      if (!d.name.empty() && other.name == d.name) cx.report(d.where, "data set '" + d.name + "' is declared twice");
    out.push_back(std::move(d));
  }
  return out;
}

// A version requirement: "1.13.1", "1.13", ">=12", ">=1.13, <2".
std::optional<VersionSpec> read_version_spec(Context& cx, const Entry& e) {
  const std::optional<std::string> text = read_string(cx, e);
  if (!text) return std::nullopt;
  try {
    return VersionSpec::parse(*text);
  } catch (const std::invalid_argument& error) {
    type_error(cx, e, "a version requirement", error.what());
    return std::nullopt;
  }
}

// One of `allowed`; otherwise "did you mean" from `aliases` or the edit distance.
std::optional<std::string> read_choice(Context& cx, const Entry& e, const std::vector<std::string>& allowed,
                                       const std::map<std::string, std::string>& aliases = {}) {
  const std::optional<std::string> text = read_string(cx, e);
  if (!text) return std::nullopt;
  if (std::find(allowed.begin(), allowed.end(), *text) != allowed.end()) return text;
  std::string message = "key '" + e.key + "' must be one of " + join(allowed, ", ") + ", got '" + *text + "'";
  const auto alias = aliases.find(lowercase(*text));
  const std::string suggestion = alias != aliases.end() ? alias->second : closest_match(*text, allowed);
  if (!suggestion.empty()) message += "; did you mean '" + suggestion + "'?";
  cx.report(e.where, std::move(message));
  return std::nullopt;
}

bool is_map_or_null(Context& cx, const Entry& e) {
  if (e.value.IsMap() || e.value.IsNull()) return true;
  type_error(cx, e, "a map");
  return false;
}

void read_compiler(Context& cx, const Entry& e, Environment& env) {
  if (!is_map_or_null(cx, e)) return;
  MapReader(cx, "'compiler'")
      .optional("flags",
                [&](const Entry& flags) {
                  if (auto list = read_string_list(cx, flags)) env.compiler_flags = texts(*list);
                })
      .optional("timeout", [&](const Entry& timeout) { set(env.compile_timeout_s, read_duration(cx, timeout)); })
      .optional("std",
                [&](const Entry& standard) {
                  set(env.compiler_std, read_choice(cx, standard, kCxxStandards,
                                                    {{"17", "c++17"}, {"c++1z", "c++17"}, {"cxx17", "c++17"},
                                                     {"20", "c++20"}, {"c++2a", "c++20"}, {"cxx20", "c++20"},
                                                     {"gnu++1z", "gnu++17"}, {"gnu++2a", "gnu++20"}}));
                })
      .alias("standard", "std")
      .alias("cxx_standard", "std")
      .optional("id",
                [&](const Entry& id) {
                  set(env.pins.compiler_id,
                      read_choice(cx, id, {"gcc", "clang"}, {{"g++", "gcc"}, {"gnu", "gcc"}, {"clang++", "clang"}}));
                })
      .optional("version", [&](const Entry& v) { set(env.pins.compiler_version, read_version_spec(cx, v)); })
      .alias("min_version", "version")
      .alias("compiler", "id")
      .read(e.value);
}

void read_libtorch(Context& cx, const Entry& e, Pins& pins) {
  if (!is_map_or_null(cx, e)) return;
  MapReader(cx, "'libtorch'")
      .optional("version", [&](const Entry& v) { set(pins.libtorch_version, read_version_spec(cx, v)); })
      .optional("cxx11_abi", [&](const Entry& abi) { set(pins.cxx11_abi, read_int(cx, abi, 0, 1)); })
      .alias("abi", "cxx11_abi")
      .alias("_glibcxx_use_cxx11_abi", "cxx11_abi")
      .read(e.value);
}

void read_cmake(Context& cx, const Entry& e, Pins& pins) {
  if (!is_map_or_null(cx, e)) return;
  MapReader(cx, "'cmake'")
      .optional("version", [&](const Entry& v) { set(pins.cmake_version, read_version_spec(cx, v)); })
      .alias("min_version", "version")
      .read(e.value);
}

void read_resources(Context& cx, const Entry& e, Pins& pins) {
  if (!is_map_or_null(cx, e)) return;
  MapReader(cx, "'resources'")
      .optional("disk", [&](const Entry& d) { set(pins.disk_bytes, read_size(cx, d, 0, "0")); })
      .optional("memory", [&](const Entry& m) { set(pins.memory_bytes, read_size(cx, m, 0, "0")); })
      .alias("ram", "memory")
      .alias("disk_space", "disk")
      .read(e.value);
}

void read_cuda(Context& cx, const Entry& e, Pins& pins) {
  const std::optional<std::string> c =
      read_choice(cx, e, {"none", "optional", "required"}, {{"false", "none"}, {"no", "none"}, {"true", "required"}});
  if (!c) return;
  pins.cuda = *c == "required" ? Pins::Cuda::required : *c == "optional" ? Pins::Cuda::optional : Pins::Cuda::none;
}

// sandbox: {require: [layer, ...]}: the isolation floor.
void read_sandbox(Context& cx, const Entry& e, Pins& pins) {
  if (!is_map_or_null(cx, e)) return;
  std::vector<std::string> known;
  for (std::string_view name : sandbox::kLayerNames) known.emplace_back(name);
  MapReader(cx, "'sandbox'")
      .optional("require",
                [&](const Entry& r) {
                  const std::optional<std::vector<Located>> layers = read_string_list(cx, r);
                  if (!layers) return;
                  for (const Located& layer : *layers) {
                    if (!sandbox::is_layer_name(layer.text)) {
                      std::string message = "unknown sandbox layer '" + layer.text + "'";
                      if (const std::string s = closest_match(layer.text, known); !s.empty())
                        message += "; did you mean '" + s + "'?";
                      else
                        message += "; known layers: " + join(known, ", ");
                      cx.report(layer.where, std::move(message));
                    } else if (std::find(pins.sandbox_require.begin(), pins.sandbox_require.end(), layer.text) !=
                               pins.sandbox_require.end()) {
                      cx.report(layer.where, "sandbox layer '" + layer.text + "' is listed twice");
                    } else {
                      pins.sandbox_require.push_back(layer.text);
                    }
                  }
                })
      .alias("requires", "require")
      .alias("required", "require")
      .alias("floor", "require")
      .read(e.value);
}

// grading: {backend: local|slurm, slurm: {...}}
void read_slurm(Context& cx, const Entry& e, Grading::Slurm& s, bool& has_shared_dir) {
  if (!is_map_or_null(cx, e)) return;
  MapReader(cx, "'grading.slurm'")
      .optional("shared_dir",
                [&](const Entry& d) {
                  const std::optional<std::string> dir = read_string(cx, d);
                  if (!dir) return;
                  if (!fs::path(*dir).is_absolute()) {
                    cx.report(d.where, "key 'shared_dir' must be an absolute path (a folder every cluster node "
                                       "mounts at the same place), got '" + *dir + "'");
                    return;
                  }
                  s.shared_dir = *dir;
                  has_shared_dir = true;
                })
      .optional("partition", [&](const Entry& p) { set(s.partition, read_string(cx, p)); })
      .optional("user", [&](const Entry& u) { set(s.user, read_string(cx, u)); })
      .optional("conf",
                [&](const Entry& c) {
                  if (auto text = read_string(cx, c)) s.conf = *text;
                })
      .optional("poll", [&](const Entry& p) { set(s.poll_s, read_duration(cx, p)); })
      .optional("max_jobs", [&](const Entry& m) { set(s.max_jobs, read_int(cx, m, 1, 100000)); })
      .optional("sbatch_args",
                [&](const Entry& a) {
                  if (auto list = read_string_list(cx, a)) s.sbatch_args = texts(*list);
                })
      .alias("shared", "shared_dir")
      .alias("shared_directory", "shared_dir")
      .alias("queue", "partition")
      .alias("slurm_conf", "conf")
      .read(e.value);
}

void read_grading(Context& cx, const Entry& e, Grading& g) {
  if (!is_map_or_null(cx, e)) return;
  bool has_shared_dir = false;
  std::optional<Mark> slurm_at;
  MapReader(cx, "'grading'")
      .optional("backend",
                [&](const Entry& b) {
                  const auto kind = read_choice(cx, b, {"local", "slurm"}, {{"cluster", "slurm"}, {"sbatch", "slurm"}});
                  if (kind) g.backend = *kind == "slurm" ? Grading::Backend::slurm : Grading::Backend::local;
                  if (kind && *kind == "slurm") slurm_at = b.where;
                })
      .optional("slurm", [&](const Entry& s) { read_slurm(cx, s, g.slurm, has_shared_dir); })
      .alias("scheduler", "backend")
      .read(e.value);
  if (slurm_at && !has_shared_dir)
    cx.report(*slurm_at, "backend 'slurm' needs grading.slurm.shared_dir: a folder every cluster node mounts, for "
                         "the job folders and the build cache (see docs/slurm.md)");
}

// The task list: unique folder names. Invalid and repeated entries are
// reported and left out, so the valid ones are still loaded and checked.
std::optional<std::vector<Located>> read_task_list(Context& cx, const Entry& e) {
  std::optional<std::vector<Located>> listed = read_string_list(cx, e);
  if (!listed) return std::nullopt;
  if (listed->empty()) {
    cx.report(e.where, "key 'tasks' must list at least one task");
    return std::nullopt;
  }
  std::vector<Located> tasks;
  for (const Located& task : *listed) {
    const auto earlier = std::find_if(tasks.begin(), tasks.end(),
                                      [&](const Located& t) { return t.text == task.text; });
    if (!is_folder_name(task.text)) {
      cx.report(task.where, "task '" + task.text + "' must be the name of a folder inside " + cx.folder());
    } else if (earlier != tasks.end()) {
      cx.report(task.where, "task '" + task.text + "' is listed twice (first at line " +
                                std::to_string(earlier->where.line) + ")");
    } else {
      tasks.push_back(task);
    }
  }
  return tasks;
}

// environment.yaml as read: the model without tasks, and the task list.
struct EnvironmentFile {
  Environment env;
  std::vector<Located> tasks;  // the valid entries of 'tasks'
  size_t listed_tasks = 0;     // all its entries, valid or not
};

void check_pass_mark(Context& cx, const EnvironmentFile& file, const std::optional<Mark>& where) {
  if (!where || file.listed_tasks == 0) return;
  const int most = kMaxScore * static_cast<int>(file.listed_tasks);
  if (file.env.pass_mark > most) {
    cx.report(*where, "pass_mark " + std::to_string(file.env.pass_mark) + " cannot be reached: " +
                          std::to_string(file.listed_tasks) + " task(s) score at most " + std::to_string(most));
  }
}

EnvironmentFile read_environment(Context& cx, const YAML::Node& root) {
  EnvironmentFile file;
  Environment& env = file.env;
  std::optional<Mark> pass_mark_at;  // set when pass_mark was read
  MapReader(cx, "environment.yaml")
      .required("name",
                [&](const Entry& e) {
                  const std::optional<std::string> name = read_string(cx, e);
                  if (name && !is_valid_name(*name)) {
                    cx.report(e.where, "key 'name' must use only a-z, 0-9, '_' and '-', got '" + *name + "'");
                  } else {
                    set(env.name, name);
                  }
                })
      .required("title", [&](const Entry& e) { set(env.title, read_string(cx, e)); })
      .required("duration", [&](const Entry& e) { set(env.duration_s, read_duration(cx, e)); })
      .required("pass_mark",
                [&](const Entry& e) {
                  if (const std::optional<int> mark = read_int(cx, e, 0, INT_MAX)) {
                    env.pass_mark = *mark;
                    pass_mark_at = e.where;
                  }
                })
      .optional("threads", [&](const Entry& e) { set(env.threads, read_int(cx, e, kMinThreads, kMaxThreads)); })
      .optional("compiler", [&](const Entry& e) { read_compiler(cx, e, env); })
      .optional("data", [&](const Entry& e) { set(env.data, read_data_list(cx, e)); })
      .optional("libtorch", [&](const Entry& e) { read_libtorch(cx, e, env.pins); })
      .optional("cmake", [&](const Entry& e) { read_cmake(cx, e, env.pins); })
      .optional("resources", [&](const Entry& e) { read_resources(cx, e, env.pins); })
      .optional("cuda", [&](const Entry& e) { read_cuda(cx, e, env.pins); })
      .optional("sandbox", [&](const Entry& e) { read_sandbox(cx, e, env.pins); })
      .optional("grading", [&](const Entry& e) { read_grading(cx, e, env.grading); })
      .required("tasks",
                [&](const Entry& e) {
                  set(file.tasks, read_task_list(cx, e));
                  if (e.value.IsSequence()) file.listed_tasks = e.value.size();
                })
      .alias("time_limit", "duration")
      .alias("time", "duration")
      .alias("torch", "libtorch")
      .alias("requirements", "resources")
      .alias("gpu", "cuda")
      .read(root);
  check_pass_mark(cx, file, pass_mark_at);
  return file;
}

// ---------------------------------------------------------------------------
// 6. Loading
// ---------------------------------------------------------------------------

// Runs a validation step, turning a stray yaml-cpp exception into a diagnostic.
template <typename Step>
void guarded(Context& cx, Step&& step) {
  try {
    step();
  } catch (const YAML::Exception& e) {
    cx.report(to_mark(cx.file(), e.mark), "unexpected YAML error: " + e.msg);
  }
}

// In both functions below, `shown_dir` is the environment's folder as the
// user gave it (for messages), `abs_dir` the same folder made absolute.

// The listed tasks that have a folder; the others are reported.
std::vector<Located> with_folders(Context& cx, const fs::path& shown_dir, const fs::path& abs_dir,
                                  const std::vector<Located>& tasks) {
  std::vector<Located> found;
  for (const Located& ref : tasks) {
    std::error_code error;
    if (fs::is_directory(abs_dir / ref.text, error)) {
      found.push_back(ref);
    } else {
      cx.report(ref.where, "task '" + ref.text + "' has no folder " + (shown_dir / ref.text).string() +
                               "; each listed task needs a folder holding its task.yaml");
    }
  }
  return found;
}

std::optional<TaskConfig> load_task(const fs::path& shown_dir, const fs::path& abs_dir, const Located& ref,
                                    std::vector<Diagnostic>& out) {
  const fs::path file = shown_dir / ref.text / "task.yaml";
  const std::optional<YAML::Node> root = read_yaml(file, "the task's description (task.yaml)", out);
  if (!root) return std::nullopt;
  Context cx(file.string(), out);
  std::optional<TaskConfig> task;
  guarded(cx, [&] { task = read_task(cx, *root, ref.text, abs_dir / ref.text); });
  return task;
}

}  // namespace

Environment load_environment(const fs::path& dir) {
  std::vector<Diagnostic> diagnostics;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    diagnostics.push_back({Mark{dir.string()}, "no such folder; expected an environment folder holding "
                                               "environment.yaml and one sub-folder per task"});
    throw ConfigError(std::move(diagnostics));
  }
  const fs::path abs_dir = fs::absolute(dir, error).lexically_normal();
  const fs::path file = dir / "environment.yaml";
  const std::optional<YAML::Node> root =
      read_yaml(file, "the environment's description (environment.yaml)", diagnostics);
  if (!root) throw ConfigError(std::move(diagnostics));

  Context cx(file.string(), diagnostics);
  EnvironmentFile read;
  guarded(cx, [&] { read = read_environment(cx, *root); });
  read.env.dir = abs_dir;
  // Every problem in environment.yaml first, then each task's file.
  const std::vector<Located> found = with_folders(cx, dir, abs_dir, read.tasks);
  for (const Located& ref : found) {
    if (auto task = load_task(dir, abs_dir, ref, diagnostics)) read.env.tasks.push_back(std::move(*task));
  }
  for (const auto& task : read.env.tasks) {
    if (task.data.empty() || read.env.find_data(task.data)) continue;
    std::string names;
    for (const auto& d : read.env.data) names += (names.empty() ? "" : ", ") + d.name;
    diagnostics.push_back({task.data_mark, "data set '" + task.data + "' is not declared in environment.yaml's 'data' (" +
                                               (names.empty() ? std::string("none is") : "declared: " + names) + ")"});
  }
  if (!diagnostics.empty()) throw ConfigError(std::move(diagnostics));
  return std::move(read.env);
}

}  // namespace torchexam::config
