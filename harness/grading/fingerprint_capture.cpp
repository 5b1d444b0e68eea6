#include "grading/fingerprint_capture.hpp"

#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "config/data_sets.hpp"

#include <torchexam/plugin_abi.h>

#include <fmt/format.h>

#include <sstream>
#include <tuple>

namespace torchexam {
namespace fs = std::filesystem;

namespace {

class SystemProbes final : public FingerprintProbes {
 public:
  std::string harness_version() const override { return build_config::kVersion; }

  std::string file_sha256(const fs::path& file) override { return torchexam::file_sha256(file); }

  std::string tree_sha256(const fs::path& dir) override { return data_sets::tree_sha256(dir); }
};

std::vector<std::string> words(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string w; in >> w;) out.push_back(w);
  return out;
}

}  // namespace

FingerprintProbes& system_fingerprint_probes() {
  static SystemProbes probes;
  return probes;
}

CompilerId parse_compiler_identity(const std::string& line) {
  const auto w = words(line);
  if (w.empty()) return {};
  CompilerId id;
  if (line.find("clang") != std::string::npos) id.id = "Clang";
  else if (w[0] == "g++" || w[0] == "gcc" || w[0] == "c++" || line.find("GCC") != std::string::npos) id.id = "GNU";
  else id.id = w[0];
  id.version = w.size() > 1 ? w.back() : "";
  return id;
}

std::vector<std::string> codegen_flags(const std::string& standard, const std::vector<std::string>& env_flags) {
  std::vector<std::string> flags{"-std=" + standard};
  flags.insert(flags.end(), env_flags.begin(), env_flags.end());
  for (auto& w : words(build_config::kTorchCxxFlags)) flags.push_back(std::move(w));
  return flags;
}

TaskDefinition task_definition(const config::TaskConfig& task, double budget_s,
                               const std::map<std::string, std::string>& options) {
  TaskDefinition t;
  t.ladder = task.ladder.thresholds;
  t.higher_is_better = task.ladder.higher_is_better;
  t.time_budget_s = budget_s;
  t.memory_limit_bytes = task.memory_limit_bytes;
  Sha256 h;
  for (const auto& [k, v] : options)
    if (k != "data_dir") h.field(k).field(v);
  t.options_sha256 = h.hex();
  return t;
}

std::string task_sha256(const config::TaskConfig& task, const TaskDefinition& d, uint64_t seed) {
  // %.17g: every double written so that it reads back the same.
  Sha256 h;
  h.field("torchexam task definition 1").field(task.id).field(task.plugin).field(task.metric);
  h.field(d.higher_is_better ? "higher" : "lower");
  for (double t : d.ladder) h.field(fmt::format("{:.17g}", t));
  h.field(fmt::format("budget {:.17g}", d.time_budget_s)).field(fmt::format("seed {}", seed));
  h.field(fmt::format("memory {}", d.memory_limit_bytes)).field(d.options_sha256);
  return h.hex();
}

std::string data_set_sha256(const config::DataSet& set) {
  if (set.items.size() == 1) return set.items.front().sha256;
  std::string manifest;
  for (const auto& item : set.items) manifest += item.sha256 + "  " + item.path + "\n";
  return sha256_hex(manifest);
}

Fingerprint capture_fingerprint(const FingerprintInputs& in, FingerprintProbes& probes,
                                std::vector<std::string>* problems) {
  auto attempt = [&](const char* what, auto&& body) {
    try {
      body();
    } catch (const std::exception& e) {
      if (problems) problems->push_back(fmt::format("fingerprint: cannot read the {}: {}", what, e.what()));
    }
  };
  Fingerprint f;
  f.harness_version = probes.harness_version();
  if (!in.source.empty()) attempt("source", [&] { f.source_sha256 = probes.file_sha256(in.source); });
  f.seed = in.seed;
  f.threads = in.threads;
  f.deterministic = in.deterministic;
  if (const auto& p = in.platform) {
    f.threads = p->threads;
    f.deterministic = p->deterministic;
    f.libtorch = {p->libtorch_version, p->cxx11_abi, p->parallel};
    f.blas = {p->blas_path, p->blas_version};
  }
  if (!in.compiler_identity.empty()) {
    f.compiler = parse_compiler_identity(in.compiler_identity);
    f.compiler.flags = in.compiler_flags;
  }
  if (!in.plugin.empty())
    attempt("task plugin", [&] {
      f.plugin.sha256 = probes.file_sha256(in.plugin);
      // A plugin loads only when it speaks this ABI version (plugin.hpp).
      f.plugin.abi_version = static_cast<int>(TORCHEXAM_PLUGIN_ABI_VERSION);
    });
  if (in.task) {
    f.task = task_definition(*in.task, in.budget_s, in.options);
    f.task_sha256 = task_sha256(*in.task, f.task, in.seed);
    if (!in.task->data.empty()) {
      const config::DataSet* set = in.environment ? in.environment->find_data(in.task->data) : nullptr;
      const auto dir = in.options.find("data_dir");
      if (set && !in.data_pins.empty()) f.data[set->name] = data_set_sha256(*set);
      else if (dir != in.options.end())
        attempt("data folder", [&] { f.data[in.task->data] = probes.tree_sha256(dir->second); });
    }
  }
  f.sandbox_layers = in.sandbox_layers;
  return f;
}

}  // namespace torchexam
