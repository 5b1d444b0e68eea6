// yaml_reader.cpp — stage one and the building blocks of stage two
// (yaml_reader.hpp).
#include "config/yaml_reader.hpp"

#include "config/text.hpp"

#include <algorithm>
#include <climits>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <system_error>

namespace torchexam::config::detail {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------
// Stage one: text to nodes

Mark to_mark(const std::string& file, const YAML::Mark& mark) {
  if (mark.is_null() || mark.line < 0) return Mark{file};
  return Mark{file, mark.line + 1, mark.column + 1};
}

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
// Stage two: the typed readers

std::string Context::folder() const { return fs::path(file_).parent_path().string(); }

Mark Context::at(const YAML::Node& node) const {
  try {
    return to_mark(file_, node.Mark());
  } catch (const YAML::Exception&) {  // an undefined node has no position
    return Mark{file_};
  }
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

void type_error(Context& cx, const Entry& e, std::string_view expected, std::string_view hint) {
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

std::optional<std::string> read_string_that(Context& cx, const Entry& e, bool (*valid)(std::string_view),
                                            std::string_view requirement) {
  std::optional<std::string> text = read_string(cx, e);
  if (!text || valid(*text)) return text;
  cx.report(e.where, "key '" + e.key + "' must " + std::string(requirement) + ", got '" + *text + "'");
  return std::nullopt;
}

namespace {

std::string range_text(int min, int max) {
  if (max == INT_MAX) return "at least " + std::to_string(min);
  return "between " + std::to_string(min) + " and " + std::to_string(max);
}

}  // namespace

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

// A duration longer than zero and at most a year, in seconds.
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
  // A task's files live in its folder: a name that leaves it (absolute, or
  // through "..") could hand a candidate another task's reference.
  const fs::path relative = fs::path(*name).lexically_normal();
  if (relative.is_absolute() || relative.empty() || *relative.begin() == "..") {
    cx.report(e.where, "key '" + e.key + "' names '" + *name + "', which is outside " + cx.folder() +
                           ": name a file inside it, relative to it");
    return std::nullopt;
  }
  const fs::path path = (dir / relative).lexically_normal();
  std::error_code error;
  if (!fs::is_regular_file(path, error)) {
    cx.report(e.where, "key '" + e.key + "' names '" + *name + "', which is not a file in " + cx.folder());
    return std::nullopt;
  }
  return path;
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
                                       const std::map<std::string, std::string>& aliases) {
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

// ---------------------------------------------------------------------------
// Stage two: mappings

MapReader& MapReader::required(std::string key, Handler handler) {
  fields_.push_back({std::move(key), true, std::move(handler)});
  return *this;
}

MapReader& MapReader::optional(std::string key, Handler handler) {
  fields_.push_back({std::move(key), false, std::move(handler)});
  return *this;
}

MapReader& MapReader::alias(std::string word, std::string key) {
  aliases_.emplace(std::move(word), std::move(key));
  return *this;
}

void MapReader::read(const YAML::Node& map) {
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

void MapReader::read_pair(const YAML::Node& key, const YAML::Node& value, std::map<std::string, int>& seen) {
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

void MapReader::report_unknown(const YAML::Node& key) {
  const std::string& name = key.Scalar();
  std::string message = "unknown key '" + name + "' in " + section_;
  if (const std::string suggestion = suggest(name); !suggestion.empty()) {
    message += "; did you mean '" + suggestion + "'?";
  } else {
    message += "; known keys: " + join(known_keys(), ", ");
  }
  cx_.report(key, std::move(message));
}

std::string MapReader::suggest(const std::string& name) const {
  if (const auto alias = aliases_.find(lowercase(name)); alias != aliases_.end()) return alias->second;
  return closest_match(name, known_keys());
}

std::vector<std::string> MapReader::known_keys() const {
  std::vector<std::string> keys;
  for (const Field& field : fields_) keys.push_back(field.key);
  return keys;
}

}  // namespace torchexam::config::detail
