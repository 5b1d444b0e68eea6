// yaml_reader.hpp — the loader's two stages below the schema (internal to
// harness/config).
//
// Stage one, read_yaml(): a file becomes a YAML::Node whose nodes keep their
// line and column, or a Diagnostic (missing file, syntax error).
// Stage two's building blocks: a Context (the file being validated and the
// list its problems go to), typed readers that convert one value or report
// "key 'k' must be ..., got ..." at the value's position and return nullopt,
// and MapReader, which hands each key of a mapping to its handler and reports
// unknown keys (with "did you mean ..."), duplicate keys and missing required
// keys. The schema (schema.hpp) is written with these alone.
//
// Error policy: nothing here throws a diagnostic; problems are appended to
// the Context's list. yaml-cpp may still throw YAML::Exception from a node
// access the readers do not foresee; loader.cpp turns that into a diagnostic.
// Threads: a Context and a MapReader belong to one thread; the functions
// keep no state.
#pragma once

#include "config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torchexam::config::detail {

// yaml-cpp counts lines and columns from 0 and uses -1 for "unknown".
Mark to_mark(const std::string& file, const YAML::Mark& mark);

// The document in `file`, or nullopt after adding a diagnostic. `expected`
// says what the file should hold, for the message when it is missing.
std::optional<YAML::Node> read_yaml(const std::filesystem::path& file, std::string_view expected,
                                    std::vector<Diagnostic>& out);

// The file being validated and where its problems go. Holds a reference to
// `out`, which must outlive it.
class Context {
 public:
  Context(std::string file, std::vector<Diagnostic>& out) : file_(std::move(file)), out_(out) {}

  const std::string& file() const { return file_; }
  // The folder of the file, as the user spelled it.
  std::string folder() const;

  // The node's position; the file alone for an undefined node.
  Mark at(const YAML::Node& node) const;
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

// Assigns a reader's result when it has one; a failed read leaves the
// default (the problem is already reported).
template <typename T, typename U>
void set(T& target, std::optional<U> value) {
  if (value) target = std::move(*value);
}

// How a value reads in "got ...": the scalar as written, or its kind.
std::string describe(const YAML::Node& node);

// "key 'k' must be <expected>, got <describe(value)> (<hint>)".
void type_error(Context& cx, const Entry& e, std::string_view expected, std::string_view hint = {});

// The typed readers: the value converted, or nullopt after a report.
std::optional<std::string> read_string(Context& cx, const Entry& e);  // a non-empty scalar
// A string for which `valid` holds; otherwise "key 'k' must <requirement>,
// got '<text>'", e.g. requirement "use only a-z, 0-9, '_' and '-'".
std::optional<std::string> read_string_that(Context& cx, const Entry& e, bool (*valid)(std::string_view),
                                            std::string_view requirement);
std::optional<int> read_int(Context& cx, const Entry& e, int min, int max);
std::optional<uint64_t> read_unsigned(Context& cx, const Entry& e);
std::optional<double> read_duration(Context& cx, const Entry& e);  // longer than zero, in seconds
// A size of at least `min` bytes; `min_text` is how messages write `min`.
std::optional<uint64_t> read_size(Context& cx, const Entry& e, uint64_t min, std::string_view min_text);
std::optional<std::vector<Located>> read_string_list(Context& cx, const Entry& e);
std::vector<std::string> texts(const std::vector<Located>& items);
// A flat map of scalars to scalars, kept as strings.
std::optional<std::map<std::string, std::string>> read_string_map(Context& cx, const Entry& e);
// A file named by the value, relative to `dir` and inside it; it must exist.
std::optional<std::filesystem::path> read_existing_file(Context& cx, const Entry& e,
                                                        const std::filesystem::path& dir);
// A version requirement: "1.13.1", "1.13", ">=12", ">=1.13, <2".
std::optional<VersionSpec> read_version_spec(Context& cx, const Entry& e);
// One of `allowed`; otherwise "did you mean" from `aliases` (lower-case
// words authors reach for) or the edit distance.
std::optional<std::string> read_choice(Context& cx, const Entry& e, const std::vector<std::string>& allowed,
                                       const std::map<std::string, std::string>& aliases = {});
// True for a mapping or nothing ("compiler:"); reports anything else.
bool is_map_or_null(Context& cx, const Entry& e);

// Reads one YAML mapping: each key goes to the handler registered for it;
// unknown, duplicate and missing required keys become diagnostics. Handlers
// run in the order the keys appear in the file. Holds a reference to the
// Context, which must outlive it.
class MapReader {
 public:
  using Handler = std::function<void(const Entry&)>;

  // `section` names the mapping in messages: "task.yaml", "'compiler'".
  MapReader(Context& cx, std::string section) : cx_(cx), section_(std::move(section)) {}

  MapReader& required(std::string key, Handler handler);
  MapReader& optional(std::string key, Handler handler);
  // A word authors reach for instead of a known key, too far from it for
  // the edit distance to suggest it ("thresholds" for "ladder").
  MapReader& alias(std::string word, std::string key);

  // A null node (an empty file, "compiler:") reads as an empty mapping.
  void read(const YAML::Node& map);

 private:
  struct Field {
    std::string key;
    bool required;
    Handler handler;
  };

  void read_pair(const YAML::Node& key, const YAML::Node& value, std::map<std::string, int>& seen);
  void report_unknown(const YAML::Node& key);
  std::string suggest(const std::string& name) const;
  std::vector<std::string> known_keys() const;

  Context& cx_;
  std::string section_;
  std::vector<Field> fields_;
  std::map<std::string, std::string> aliases_;
};

}  // namespace torchexam::config::detail
