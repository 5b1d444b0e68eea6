#include "grading/fingerprint.hpp"

#include "base/json_shape.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <filesystem>
#include <tuple>

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

void tag_invoke(json::value_from_tag, json::value& v, const TaskDefinition& x) {
  v = json::object{{"ladder", write(x.ladder)},
                   {"higher_is_better", x.higher_is_better},
                   {"time_budget_s", write(x.time_budget_s)},
                   {"memory_limit_bytes", x.memory_limit_bytes},
                   {"options_sha256", x.options_sha256}};
}

TaskDefinition tag_invoke(json::value_to_tag<TaskDefinition>, const json::value& v) {
  const Object o(v);
  TaskDefinition t;
  t.ladder = o.optional<std::vector<double>>("ladder");
  if (o.has("higher_is_better")) t.higher_is_better = o.required<bool>("higher_is_better");
  t.time_budget_s = o.has("time_budget_s") ? o.real("time_budget_s") : 0;
  t.memory_limit_bytes = o.optional<uint64_t>("memory_limit_bytes");
  t.options_sha256 = o.optional<std::string>("options_sha256");
  return t;
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
                   {"task", write(x.task)},
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
  f.task = o.optional<TaskDefinition>("task");
  f.data = o.optional<std::map<std::string, std::string>>("data");
  f.sandbox_layers = o.optional<std::vector<std::string>>("sandbox_layers");
  return f;
}

std::string blas_label(const BlasLibrary& blas) {
  const std::filesystem::path path(blas.path);
  const std::string folder = path.parent_path().filename().string();
  std::string name;
  if (folder.rfind("openblas", 0) == 0 || folder == "atlas" || folder.rfind("blis", 0) == 0) name = folder;
  else if (folder == "blas") name = "reference";
  else {
    name = path.filename().string();
    name = name.substr(0, name.find(".so"));
  }
  return blas.version.empty() ? name : name + " " + blas.version;
}

namespace {

std::string short_hash(const std::string& h) { return h.size() > 12 ? h.substr(0, 12) : h; }

std::string ladder_text(const std::vector<double>& ladder) { return fmt::format("[{}]", fmt::join(ladder, ", ")); }

// Appends a reason when both sides are known and differ.
class Reasons {
 public:
  template <class T, class Say>
  void known(const T& before, const T& after, bool both_known, Say say) {
    if (both_known && !(before == after)) out.push_back(say());
  }
  void text(const std::string& before, const std::string& after, const char* what) {
    known(before, after, !before.empty() && !after.empty(), [&] { return fmt::format("{} {} -> {}", what, before, after); });
  }
  std::vector<std::string> out;
};

}  // namespace

std::vector<std::string> fingerprint_differences(const Fingerprint& a, const Fingerprint& b) {
  Reasons r;
  r.text(a.harness_version, b.harness_version, "harness");
  r.known(a.source_sha256, b.source_sha256, !a.source_sha256.empty() && !b.source_sha256.empty(),
          [] { return std::string("source changed"); });
  r.known(a.seed, b.seed, true, [&] { return fmt::format("seed {} -> {}", a.seed, b.seed); });
  r.known(a.threads, b.threads, a.threads > 0 && b.threads > 0,
          [&] { return fmt::format("thread count {} -> {}", a.threads, b.threads); });
  r.known(a.deterministic, b.deterministic, true, [&] {
    return fmt::format("deterministic algorithms {} -> {}", a.deterministic ? "on" : "off", b.deterministic ? "on" : "off");
  });
  const bool torch_known = !a.libtorch.version.empty() && !b.libtorch.version.empty();
  r.text(a.libtorch.version, b.libtorch.version, "LibTorch");
  r.known(a.libtorch.cxx11_abi, b.libtorch.cxx11_abi, torch_known, [&] {
    return fmt::format("LibTorch CXX11 ABI {} -> {}", a.libtorch.cxx11_abi ? 1 : 0, b.libtorch.cxx11_abi ? 1 : 0);
  });
  r.text(a.libtorch.parallel, b.libtorch.parallel, "LibTorch parallel backend");
  r.known(a.blas, b.blas, !a.blas.path.empty() && !b.blas.path.empty(), [&] {
    const auto from = blas_label(a.blas), to = blas_label(b.blas);
    return from == to ? fmt::format("BLAS library moved from {} to {} ({})", a.blas.path, b.blas.path, to)
                      : fmt::format("BLAS changed from {} to {}", from, to);
  });
  const bool compiler_known = !a.compiler.id.empty() && !b.compiler.id.empty();
  r.known(std::tie(a.compiler.id, a.compiler.version), std::tie(b.compiler.id, b.compiler.version), compiler_known,
          [&] {
            return fmt::format("compiler {} {} -> {} {}", a.compiler.id, a.compiler.version, b.compiler.id,
                               b.compiler.version);
          });
  r.known(a.compiler.flags, b.compiler.flags, compiler_known, [&] {
    return fmt::format("compiler flags {} -> {}", fmt::join(a.compiler.flags, " "), fmt::join(b.compiler.flags, " "));
  });
  r.known(a.plugin.sha256, b.plugin.sha256, !a.plugin.sha256.empty() && !b.plugin.sha256.empty(), [&] {
    return fmt::format("task plugin changed (sha256 {} -> {})", short_hash(a.plugin.sha256), short_hash(b.plugin.sha256));
  });
  r.known(a.plugin.abi_version, b.plugin.abi_version, a.plugin.abi_version > 0 && b.plugin.abi_version > 0,
          [&] { return fmt::format("plugin ABI {} -> {}", a.plugin.abi_version, b.plugin.abi_version); });
  if (!a.task_sha256.empty() && !b.task_sha256.empty() && a.task_sha256 != b.task_sha256) {
    // Name the parts that changed; the hash alone when the parts were not kept.
    const size_t before = r.out.size();
    const auto& x = a.task;
    const auto& y = b.task;
    const bool parts = !x.ladder.empty() && !y.ladder.empty();
    r.known(x.ladder, y.ladder, parts,
            [&] { return fmt::format("ladder changed from {} to {}", ladder_text(x.ladder), ladder_text(y.ladder)); });
    r.known(x.higher_is_better, y.higher_is_better, parts, [&] {
      return fmt::format("ladder direction changed to {} is better", y.higher_is_better ? "higher" : "lower");
    });
    r.known(x.time_budget_s, y.time_budget_s, parts,
            [&] { return fmt::format("training budget {:g} s -> {:g} s", x.time_budget_s, y.time_budget_s); });
    r.known(x.memory_limit_bytes, y.memory_limit_bytes, parts, [&] {
      return fmt::format("memory limit {} -> {} bytes", x.memory_limit_bytes, y.memory_limit_bytes);
    });
    r.known(x.options_sha256, y.options_sha256, parts, [] { return std::string("task plugin options changed"); });
    // The seed is part of the task's hash too, and said above.
    if (r.out.size() == before && a.seed == b.seed) r.out.push_back("task definition changed");
  }
  for (const auto& [name, sha] : a.data) {
    auto it = b.data.find(name);
    if (it == b.data.end()) r.out.push_back(fmt::format("data set {} no longer used", name));
    else if (it->second != sha) r.out.push_back(fmt::format("data set {} changed", name));
  }
  for (const auto& [name, sha] : b.data)
    if (!a.data.count(name)) r.out.push_back(fmt::format("data set {} added", name));
  if (!a.sandbox_layers.empty() && !b.sandbox_layers.empty() && a.sandbox_layers != b.sandbox_layers) {
    std::vector<std::string> changes;
    for (const auto& l : b.sandbox_layers)
      if (std::find(a.sandbox_layers.begin(), a.sandbox_layers.end(), l) == a.sandbox_layers.end())
        changes.push_back("+" + l);
    for (const auto& l : a.sandbox_layers)
      if (std::find(b.sandbox_layers.begin(), b.sandbox_layers.end(), l) == b.sandbox_layers.end())
        changes.push_back("-" + l);
    if (!changes.empty()) r.out.push_back(fmt::format("sandbox layers {}", fmt::join(changes, " ")));
  }
  return r.out;
}

}  // namespace torchexam
