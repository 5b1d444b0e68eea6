// json_shape.hpp — typed values in and out of Boost.JSON, with errors that
// name the field. The one reader behind every `tag_invoke(value_to_tag<T>)`
// of the project (grading/grade_json.hpp, doctor/check.hpp and forecast.hpp,
// protocol/messages.hpp), so a wrong shape reads the same everywhere:
// "tasks[2].best_score: expected an integer".
//
// read<T>(v) checks scalars itself (a string, true or false, an integer that
// fits T, a finite number), walks std::optional (null is empty), std::vector
// (the index joins the path) and std::map<std::string, T>, and hands any
// other T to boost::json::value_to<T>, whose tag_invoke reads an object with
// Object below. write(x) is the way back: a non-finite double and an empty
// optional are null (JSON has no NaN), a path is its string, anything else
// goes through boost::json::value_from.
//
// Failure: ShapeError, with the path inside the value read and the problem;
// each layer turns it into its own error (the protocol's invalid_params for
// params, a reply error naming the method for results). Nothing else is
// thrown for a wrong shape, but by parse(), which reads a whole file's text
// and names the file in a std::runtime_error. Threads: none; pure functions.
#pragma once

#include <boost/json.hpp>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace torchexam::json_shape {
namespace json = boost::json;

class ShapeError : public std::runtime_error {
 public:
  // `path`: "" for the value itself, ".key" and "[i]" inside it.
  ShapeError(std::string path, std::string problem);
  const std::string& path() const { return path_; }
  const std::string& problem() const { return problem_; }
  // "<path>: <problem>", the path relative to a name the caller puts in
  // front: "params" + ".task: expected a string".
  std::string what_at() const { return path_ + ": " + problem_; }
  // The same problem, seen from one level up.
  ShapeError within(std::string_view step) const { return ShapeError(std::string(step) + path_, problem_); }

 private:
  std::string path_, problem_;
};

template <class T>
T read(const json::value& v);

namespace detail {
template <class T>
struct is_optional : std::false_type {};
template <class T>
struct is_optional<std::optional<T>> : std::true_type {};
template <class T>
struct is_vector : std::false_type {};
template <class T>
struct is_vector<std::vector<T>> : std::true_type {};
template <class T>
struct is_map : std::false_type {};
template <class T>
struct is_map<std::map<std::string, T>> : std::true_type {};

[[noreturn]] void expected(const char* what);
std::optional<int64_t> integer_of(const json::value& v);
}  // namespace detail

// How a type is named in "expected ..." and "missing (... is required)".
template <class T>
constexpr const char* describe() {
  if constexpr (std::is_same_v<T, bool>) return "true or false";
  else if constexpr (std::is_integral_v<T>) return "an integer";
  else if constexpr (std::is_floating_point_v<T>) return "a finite number";
  else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>) return "a string";
  else if constexpr (std::is_enum_v<T>) return "a string";  // enums travel by name
  else if constexpr (detail::is_vector<T>::value) return "an array";
  else return "an object";
}

template <class T>
T read(const json::value& v) {
  if constexpr (std::is_same_v<T, json::value>) {
    return v;
  } else if constexpr (detail::is_optional<T>::value) {
    if (v.is_null()) return std::nullopt;
    return read<typename T::value_type>(v);
  } else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::filesystem::path>) {
    if (!v.is_string()) detail::expected(describe<T>());
    return T(std::string(v.get_string()));
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_bool()) detail::expected(describe<T>());
    return v.get_bool();
  } else if constexpr (std::is_integral_v<T>) {
    const auto i = detail::integer_of(v);  // int64's range, whatever the spelling
    bool fits = i.has_value();
    if constexpr (std::is_signed_v<T>)
      fits = fits && *i >= std::numeric_limits<T>::min() && *i <= std::numeric_limits<T>::max();
    else
      fits = fits && *i >= 0 && static_cast<uint64_t>(*i) <= std::numeric_limits<T>::max();
    if (!fits) detail::expected(describe<T>());
    return static_cast<T>(*i);
  } else if constexpr (std::is_floating_point_v<T>) {
    // 1e400 parses as infinity, which has no JSON spelling to send back.
    if (v.is_double() && std::isfinite(v.get_double())) return static_cast<T>(v.get_double());
    if (v.is_int64()) return static_cast<T>(v.get_int64());
    if (v.is_uint64()) return static_cast<T>(v.get_uint64());
    detail::expected(describe<T>());
  } else if constexpr (detail::is_vector<T>::value) {
    const auto* a = v.if_array();
    if (!a) detail::expected(describe<T>());
    T out;
    out.reserve(a->size());
    for (size_t i = 0; i < a->size(); ++i) {
      try {
        out.push_back(read<typename T::value_type>((*a)[i]));
      } catch (const ShapeError& e) {
        throw e.within("[" + std::to_string(i) + "]");
      }
    }
    return out;
  } else if constexpr (detail::is_map<T>::value) {
    const auto* o = v.if_object();
    if (!o) detail::expected(describe<T>());
    T out;
    for (const auto& [k, x] : *o) {
      try {
        out.emplace(std::string(k), read<typename T::mapped_type>(x));
      } catch (const ShapeError& e) {
        throw e.within("." + std::string(k));
      }
    }
    return out;
  } else {
    return json::value_to<T>(v);
  }
}

// A number that may be null on the wire: a non-finite double goes out as
// null (write) and comes back as NaN.
inline double read_real(const json::value& v) {
  return v.is_null() ? std::numeric_limits<double>::quiet_NaN() : read<double>(v);
}

template <class T>
json::value write(const T& x) {
  if constexpr (detail::is_optional<T>::value) {
    return x ? write(*x) : json::value(nullptr);
  } else if constexpr (std::is_floating_point_v<T>) {
    return std::isfinite(x) ? json::value(static_cast<double>(x)) : json::value(nullptr);
  } else if constexpr (std::is_same_v<T, std::filesystem::path>) {
    return json::value(x.string());
  } else if constexpr (detail::is_vector<T>::value) {
    json::array a;
    a.reserve(x.size());
    for (const auto& e : x) a.push_back(write(e));
    return a;
  } else if constexpr (detail::is_map<T>::value) {
    json::object o;
    for (const auto& [k, e] : x) o[k] = write(e);
    return o;
  } else {
    return json::value_from(x);
  }
}

// The fields of one JSON object. A field set to null counts as absent.
class Object {
 public:
  // Throws ShapeError("", "expected an object").
  explicit Object(const json::value& v);

  // Absent (or null): ShapeError(".key", "missing (a string is required)").
  template <class T>
  T required(std::string_view key) const {
    const json::value* v = find(key);
    if (!v) throw ShapeError("." + std::string(key), std::string("missing (") + describe<T>() + " is required)");
    return at<T>(key, *v);
  }
  // Absent (or null): `fallback`.
  template <class T>
  T optional(std::string_view key, T fallback = T{}) const {
    const json::value* v = find(key);
    return v ? at<T>(key, *v) : std::move(fallback);
  }
  // A number that may be null (read_real): absent or null is NaN.
  double real(std::string_view key) const;
  bool has(std::string_view key) const { return find(key) != nullptr; }
  // Keys not in `known` are an error: "unknown field 'x' (known: a, b)".
  void only(std::initializer_list<std::string_view> known) const;
  const json::object& fields() const { return *obj_; }

 private:
  const json::value* find(std::string_view key) const;
  template <class T>
  T at(std::string_view key, const json::value& v) const {
    try {
      return read<T>(v);
    } catch (const ShapeError& e) {
      throw e.within("." + std::string(key));
    }
  }
  const json::object* obj_;
};

// `text` parsed as JSON and read as T, for a file the harness reads back:
// `source` (the file's path, or what printed the text) starts every error.
// Throws std::runtime_error: "<source>: not JSON (<reason>)" or
// "<source>: <ShapeError>" (".exit.code: expected an integer").
template <class T>
T parse(std::string_view text, const std::string& source) {
  json::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) throw std::runtime_error(source + ": not JSON (" + ec.message() + ")");
  try {
    return read<T>(v);
  } catch (const ShapeError& e) {
    throw std::runtime_error(source + ": " + (e.path().empty() ? e.problem() : e.what_at()));
  }
}

// A stored JSON text read as T; nullopt when it is not JSON or not of T's
// shape (a row an older build wrote, a number that was not finite). For
// listings, which must not fail on one odd row.
template <class T>
std::optional<T> parse_stored(std::string_view text) {
  json::error_code ec;
  const json::value v = json::parse(text, ec);
  if (ec) return std::nullopt;
  try {
    return read<T>(v);
  } catch (const ShapeError&) {
    return std::nullopt;
  }
}

// Every field of `o` but those in `skip`, each a number that may be null
// (read_real): a curve point's metrics, a progress note's.
std::map<std::string, double> read_reals(const Object& o, std::initializer_list<std::string_view> skip = {});

}  // namespace torchexam::json_shape
