#include "grading/fingerprint.hpp"

#include "base/json_shape.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>

namespace torchexam {
namespace json = boost::json;
using json_shape::Object;
using json_shape::write;

void tag_invoke(json::value_from_tag, json::value& v, const LibTorchBuild& x) {
  v = json::object{{"version", x.version}, {"cxx11_abi", x.cxx11_abi}, {"parallel", to_valid_utf8(x.parallel)}};
}

LibTorchBuild tag_invoke(json::value_to_tag<LibTorchBuild>, const json::value& v) {
  const Object o(v);
  return {o.optional<std::string>("version"), o.optional<bool>("cxx11_abi"), o.optional<std::string>("parallel")};
}

void tag_invoke(json::value_from_tag, json::value& v, const BlasLibrary& x) {
  v = json::object{{"path", to_valid_utf8(x.path)}, {"version", to_valid_utf8(x.version)}};
}

BlasLibrary tag_invoke(json::value_to_tag<BlasLibrary>, const json::value& v) {
  const Object o(v);
  return {o.optional<std::string>("path"), o.optional<std::string>("version")};
}

void tag_invoke(json::value_from_tag, json::value& v, const CompilerId& x) {
  v = json::object{{"id", x.id}, {"version", to_valid_utf8(x.version)}, {"flags", write(to_valid_utf8(x.flags))}};
}

CompilerId tag_invoke(json::value_to_tag<CompilerId>, const json::value& v) {
  const Object o(v);
  return {o.optional<std::string>("id"), o.optional<std::string>("version"),
          o.optional<std::vector<std::string>>("flags")};
}

void tag_invoke(json::value_from_tag, json::value& v, const PluginId& x) {
  v = json::object{{"sha256", x.sha256}, {"abi_version", x.abi_version}};
}

PluginId tag_invoke(json::value_to_tag<PluginId>, const json::value& v) {
  const Object o(v);
  return {o.optional<std::string>("sha256"), o.optional<int>("abi_version")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Fingerprint& x) {
  v = json::object{{"harness_version", x.harness_version},
                   {"source_sha256", x.source_sha256},
                   {"seed", x.seed},
                   {"threads", x.threads},
                   {"deterministic", x.deterministic},
                   {"libtorch", write(x.libtorch)},
                   {"blas", write(x.blas)},
                   {"compiler", write(x.compiler)},
                   {"plugin", write(x.plugin)},
                   {"task_sha256", x.task_sha256},
                   {"data", write(x.data)},
                   {"sandbox_layers", write(to_valid_utf8(x.sandbox_layers))}};
}

Fingerprint tag_invoke(json::value_to_tag<Fingerprint>, const json::value& v) {
  const Object o(v);
  Fingerprint f;
  f.harness_version = o.optional<std::string>("harness_version");
  f.source_sha256 = o.optional<std::string>("source_sha256");
  f.seed = o.optional<uint64_t>("seed");
  f.threads = o.optional<int>("threads");
  f.deterministic = o.optional<bool>("deterministic");
  f.libtorch = o.optional<LibTorchBuild>("libtorch");
  f.blas = o.optional<BlasLibrary>("blas");
  f.compiler = o.optional<CompilerId>("compiler");
  f.plugin = o.optional<PluginId>("plugin");
  f.task_sha256 = o.optional<std::string>("task_sha256");
  f.data = o.optional<std::map<std::string, std::string>>("data");
  f.sandbox_layers = o.optional<std::vector<std::string>>("sandbox_layers");
  return f;
}

}  // namespace torchexam
