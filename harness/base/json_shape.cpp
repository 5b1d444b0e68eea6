#include "base/json_shape.hpp"

namespace torchexam::json_shape {

ShapeError::ShapeError(std::string path, std::string problem)
    : std::runtime_error((path.empty() ? std::string() : path + ": ") + problem),
      path_(std::move(path)),
      problem_(std::move(problem)) {}

namespace detail {

void expected(const char* what) { throw ShapeError("", std::string("expected ") + what); }

std::optional<int64_t> integer_of(const json::value& v) {
  if (v.is_int64()) return v.get_int64();
  if (v.is_uint64() && v.get_uint64() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return static_cast<int64_t>(v.get_uint64());
  return std::nullopt;
}

}  // namespace detail

Object::Object(const json::value& v) : obj_(v.if_object()) {
  if (!obj_) detail::expected("an object");
}

const json::value* Object::find(std::string_view key) const {
  const auto* v = obj_->if_contains(key);
  return v && !v->is_null() ? v : nullptr;
}

double Object::real(std::string_view key) const {
  const json::value* v = find(key);
  return v ? at<double>(key, *v) : std::numeric_limits<double>::quiet_NaN();
}

void Object::only(std::initializer_list<std::string_view> known) const {
  for (const auto& [k, v] : *obj_) {
    bool ok = false;
    for (auto name : known) ok = ok || k == name;
    if (ok) continue;
    std::string list;
    for (auto name : known) list += (list.empty() ? "" : ", ") + std::string(name);
    throw ShapeError("", "unknown field '" + std::string(k) + "' (known: " + (list.empty() ? "none" : list) + ")");
  }
}

std::map<std::string, double> read_reals(const Object& o, std::initializer_list<std::string_view> skip) {
  std::map<std::string, double> out;
  for (const auto& [k, v] : o.fields()) {
    bool skipped = false;
    for (auto name : skip) skipped = skipped || k == name;
    if (skipped) continue;
    try {
      out.emplace(std::string(k), read_real(v));
    } catch (const ShapeError& e) {
      throw e.within("." + std::string(k));
    }
  }
  return out;
}

}  // namespace torchexam::json_shape
