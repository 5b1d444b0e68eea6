// settings_schema.cpp — environment.yaml's settings (schema.hpp): the
// compiler, the pins `torchexam doctor` checks (libtorch, cmake, resources,
// cuda, the sandbox floor), where grading runs and what a report shows.
#include "config/schema.hpp"

#include "config/text.hpp"
#include "sandbox/layers.hpp"  // sandbox layer names for the floor

#include <algorithm>
#include <utility>

namespace torchexam::config::detail {

namespace fs = std::filesystem;

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

namespace {

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

}  // namespace

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
      .optional("repeat_score",
                [&](const Entry& r) {
                  const auto how = read_choice(cx, r, {"live", "best", "median"}, {{"max", "best"}, {"first", "live"}});
                  if (how) g.repeat_score = *how == "best"     ? Grading::RepeatScore::best
                                            : *how == "median" ? Grading::RepeatScore::median
                                                               : Grading::RepeatScore::live;
                })
      .alias("scheduler", "backend")
      .read(e.value);
  if (slurm_at && !has_shared_dir)
    cx.report(*slurm_at, "backend 'slurm' needs grading.slurm.shared_dir: a folder every cluster node mounts, for "
                         "the job folders and the build cache (see docs/slurm.md)");
}

// report: {diagnostics: full | metric_only}
void read_report(Context& cx, const Entry& e, Report& r) {
  if (!is_map_or_null(cx, e)) return;
  MapReader(cx, "'report'")
      .optional("diagnostics",
                [&](const Entry& d) {
                  const auto shown = read_choice(cx, d, {"full", "metric_only"},
                                                 {{"all", "full"},
                                                  {"true", "full"},
                                                  {"metric", "metric_only"},
                                                  {"metric-only", "metric_only"},
                                                  {"hidden", "metric_only"},
                                                  {"none", "metric_only"},
                                                  {"false", "metric_only"}});
                  if (shown)
                    r.diagnostics = *shown == "full" ? Report::Diagnostics::full : Report::Diagnostics::metric_only;
                })
      .alias("task_diagnostics", "diagnostics")
      .alias("show", "diagnostics")
      .read(e.value);
}

}  // namespace torchexam::config::detail
