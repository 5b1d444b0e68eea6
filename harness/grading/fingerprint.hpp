// fingerprint.hpp — what a grading depended on, stored with it (the
// grading's record, grade_json.hpp) so that a score can be explained and
// reproduced: two gradings of one source that differ in score differ in
// something listed here, or the task is not deterministic on this platform.
// Shown by `history --json`, `status --json` and the report's footer.
//
// JSON (one conversion place, fingerprint.cpp; reading through json_shape, a
// wrong shape is a ShapeError naming the field; a field missing from an
// older record reads as its default, empty or 0):
//   {"harness_version": "0.9.0",
//    "source_sha256": "…", "seed": 42, "threads": 2, "deterministic": true,
//    "libtorch": {"version": "1.13.1", "cxx11_abi": true, "parallel": "OpenMP"},
//    "blas": {"path": "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3", "version": "0.3.21"},
//    "compiler": {"id": "GNU", "version": "12.2.0", "flags": ["-O2", …]},
//    "plugin": {"sha256": "…", "abi_version": 2},
//    "task_sha256": "…",                        the task definition: ladder, budget, seed, limits
//    "task": {"ladder": [0.8, …], "higher_is_better": true, "time_budget_s": 600,
//             "memory_limit_bytes": 0, "options_sha256": "…"},   its parts, to name what changed
//    "data": {"fashion_mnist": "sha256…", …},   data set name -> sha256 of its files
//    "sandbox_layers": ["pid namespace", …]}
#pragma once

#include <boost/json/fwd.hpp>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace torchexam {

struct LibTorchBuild {
  std::string version;     // "1.13.1"
  bool cxx11_abi = false;  // _GLIBCXX_USE_CXX11_ABI of the build
  std::string parallel;    // at::get_parallel_info()'s backend: "OpenMP", "native thread pool"
  friend bool operator==(const LibTorchBuild&, const LibTorchBuild&) = default;
};

struct BlasLibrary {
  std::string path;     // the file actually mapped into the runner (symlinks resolved)
  std::string version;  // "0.3.21", or "" when it does not say
  friend bool operator==(const BlasLibrary&, const BlasLibrary&) = default;
};

struct CompilerId {
  std::string id;       // "GNU"
  std::string version;  // "12.2.0"
  std::vector<std::string> flags;
  friend bool operator==(const CompilerId&, const CompilerId&) = default;
};

struct PluginId {
  std::string sha256;  // of the plugin's shared library file
  int abi_version = 0;
  friend bool operator==(const PluginId&, const PluginId&) = default;
};

// The parts of the task definition a score depends on, kept beside its
// hash so that a difference can be named ("ladder changed ...").
struct TaskDefinition {
  std::vector<double> ladder;
  bool higher_is_better = true;
  double time_budget_s = 0;
  uint64_t memory_limit_bytes = 0;
  std::string options_sha256;  // the plugin options (--limit among them), data_dir left out: `data` covers it
  friend bool operator==(const TaskDefinition&, const TaskDefinition&) = default;
};

struct Fingerprint {
  std::string harness_version;
  std::string source_sha256;
  uint64_t seed = 0;
  int threads = 0;
  bool deterministic = false;  // LibTorch's deterministic algorithms were on
  LibTorchBuild libtorch;
  BlasLibrary blas;
  CompilerId compiler;
  PluginId plugin;
  std::string task_sha256;
  TaskDefinition task;
  std::map<std::string, std::string> data;  // data set -> sha256
  std::vector<std::string> sandbox_layers;
  friend bool operator==(const Fingerprint&, const Fingerprint&) = default;
};

void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const LibTorchBuild& x);
LibTorchBuild tag_invoke(boost::json::value_to_tag<LibTorchBuild>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const BlasLibrary& x);
BlasLibrary tag_invoke(boost::json::value_to_tag<BlasLibrary>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const CompilerId& x);
CompilerId tag_invoke(boost::json::value_to_tag<CompilerId>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const PluginId& x);
PluginId tag_invoke(boost::json::value_to_tag<PluginId>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const TaskDefinition& x);
TaskDefinition tag_invoke(boost::json::value_to_tag<TaskDefinition>, const boost::json::value& v);
void tag_invoke(boost::json::value_from_tag, boost::json::value& v, const Fingerprint& x);
Fingerprint tag_invoke(boost::json::value_to_tag<Fingerprint>, const boost::json::value& v);

// What differs between two gradings' fingerprints, one reason per line a
// person can read, in the order of the fields above: "thread count 2 -> 1",
// "BLAS changed from openblas-openmp 0.3.21 to reference 3.11.0", "ladder
// changed from [0.8, 0.85] to [0.7, 0.85]". A field unknown on either side
// (empty, or 0 for the thread count: an older record) is not compared.
// Empty when nothing known differs. Pure; for the report, `grade --repeat`,
// `history` and regrading.
std::vector<std::string> fingerprint_differences(const Fingerprint& before, const Fingerprint& after);

// How a BLAS library is named in those reasons: Debian's alternative
// (the folder: "openblas-openmp", "openblas-pthread"; "reference" for
// blas/), else the file's name before ".so", then the version when known.
std::string blas_label(const BlasLibrary& blas);

}  // namespace torchexam
