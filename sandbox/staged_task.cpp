#include "sandbox/staged_task.hpp"

#include <torchexam/plugin.hpp>

#include <boost/json.hpp>

#include <fstream>
#include <random>
#include <sstream>

#include <unistd.h>

namespace torchexam::sandbox {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

json::object spec_to_json(const torchexam_tensor_spec& s) {
  json::array shape;
  for (int32_t i = 0; i < s.ndim && i < TORCHEXAM_MAX_DIMS; ++i) shape.push_back(s.shape[i]);
  return {{"dtype", dtype_name(s.dtype)}, {"shape", std::move(shape)}};
}

int32_t dtype_from_name(std::string_view name) {
  for (int32_t d : {TORCHEXAM_DTYPE_FLOAT32, TORCHEXAM_DTYPE_INT64, TORCHEXAM_DTYPE_UINT8})
    if (name == dtype_name(d)) return d;
  throw std::invalid_argument("unknown dtype '" + std::string(name) + "'");
}

const json::value& field(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) throw std::invalid_argument("missing field '" + std::string(key) + "'");
  return it->value();
}

std::string string_field(const json::object& o, std::string_view key) {
  const auto& v = field(o, key);
  if (!v.is_string()) throw std::invalid_argument("field '" + std::string(key) + "' must be a string");
  return std::string(v.get_string());
}

int64_t int_field(const json::object& o, std::string_view key, int64_t lo, int64_t hi) {
  const auto& v = field(o, key);
  if (!v.is_int64() || v.get_int64() < lo || v.get_int64() > hi)
    throw std::invalid_argument("field '" + std::string(key) + "' must be a whole number in [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]");
  return v.get_int64();
}

torchexam_tensor_spec spec_from_json(const json::object& o, std::string_view key) {
  const auto& v = field(o, key);
  if (!v.is_object()) throw std::invalid_argument("field '" + std::string(key) + "' must be an object");
  const auto& so = v.get_object();
  torchexam_tensor_spec s{};
  try {
    s.dtype = dtype_from_name(string_field(so, "dtype"));
    const auto& shape = field(so, "shape");
    if (!shape.is_array() || shape.get_array().size() > TORCHEXAM_MAX_DIMS)
      throw std::invalid_argument("field 'shape' must be an array of at most " + std::to_string(TORCHEXAM_MAX_DIMS) +
                                  " dimensions");
    for (const auto& d : shape.get_array()) {
      if (!d.is_int64() || d.get_int64() < -1) throw std::invalid_argument("a dimension must be -1 or a size >= 0");
      s.shape[s.ndim++] = d.get_int64();
    }
  } catch (const std::invalid_argument& e) {
    throw std::invalid_argument(std::string(key) + ": " + e.what());
  }
  return s;
}

}  // namespace

EvaluationPolicy evaluation_policy_from(const torchexam_evaluation& e) {
  return {e.max_batch, e.in_order != 0};
}

TaskSpec task_spec_from_info(const torchexam_task_info& info) {
  TaskSpec s;
  s.name = info.name ? info.name : "";
  s.title = info.title ? info.title : "";
  s.input = info.input;
  s.output = info.output;
  s.target = info.target;
  s.metric_name = info.metric_name ? info.metric_name : "";
  s.higher_is_better = info.higher_is_better != 0;
  return s;
}

void write_task_spec(const fs::path& path, const TaskSpec& s) {
  json::object o{{"format", 2},
                 {"name", s.name},
                 {"title", s.title},
                 {"input", spec_to_json(s.input)},
                 {"output", spec_to_json(s.output)},
                 {"target", spec_to_json(s.target)},
                 {"metric_name", s.metric_name},
                 {"higher_is_better", s.higher_is_better},
                 {"train_samples", s.train_samples},
                 {"test_samples", s.test_samples},
                 {"evaluation", json::object{{"max_batch", s.evaluation.max_batch}, {"in_order", s.evaluation.in_order}}},
                 {"key", s.key}};
  std::random_device rd;
  const std::string tmp = path.string() + ".tmp-" + std::to_string(getpid()) + "-" + std::to_string(rd());
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << json::serialize(o) << "\n";
    if (!out.flush()) throw StagedTaskError("cannot write " + tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  if (ec) throw StagedTaskError("cannot move " + tmp + " to " + path.string() + ": " + ec.message());
}

TaskSpec read_task_spec(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw StagedTaskError("cannot read the staged task spec " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  try {
    json::error_code ec;
    auto v = json::parse(text.str(), ec);
    if (ec) throw std::invalid_argument("not JSON (" + ec.message() + ")");
    if (!v.is_object()) throw std::invalid_argument("not a JSON object");
    const auto& o = v.get_object();
    const int64_t format = int_field(o, "format", 0, 1000);
    if (format != 1 && format != 2) throw std::invalid_argument("unknown format (this runner reads 1 and 2)");
    TaskSpec s;
    s.name = string_field(o, "name");
    s.title = string_field(o, "title");
    s.input = spec_from_json(o, "input");
    s.output = spec_from_json(o, "output");
    s.target = spec_from_json(o, "target");
    s.metric_name = string_field(o, "metric_name");
    const auto& hib = field(o, "higher_is_better");
    if (!hib.is_bool()) throw std::invalid_argument("field 'higher_is_better' must be true or false");
    s.higher_is_better = hib.get_bool();
    s.train_samples = int_field(o, "train_samples", 0, int64_t{1} << 53);
    s.test_samples = int_field(o, "test_samples", 0, int64_t{1} << 53);
    s.key = string_field(o, "key");
    if (format >= 2) {  // format 1 predates the policy: any batching, any order
      const auto& ev = field(o, "evaluation");
      if (!ev.is_object()) throw std::invalid_argument("field 'evaluation' must be an object");
      try {
        s.evaluation.max_batch = int_field(ev.get_object(), "max_batch", 0, int64_t{1} << 53);
        const auto& in_order = field(ev.get_object(), "in_order");
        if (!in_order.is_bool()) throw std::invalid_argument("field 'in_order' must be true or false");
        s.evaluation.in_order = in_order.get_bool();
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("evaluation: ") + e.what());
      }
    }
    return s;
  } catch (const std::invalid_argument& e) {
    throw StagedTaskError("malformed staged task spec " + path.string() + ": " + e.what());
  }
}

}  // namespace torchexam::sandbox
