// config.hpp — exam environments and tasks, loaded from YAML.
//
// Two stages, as in clangd's config: yaml-cpp parses each file into nodes
// that keep file, line and column; the loader then validates them into the
// model below. Every problem becomes a Diagnostic at the value's position;
// an unknown key says "did you mean ..." when a known key is close; a wrong
// type or a missing key names the file, line and key. load_environment()
// collects all diagnostics it can and throws ConfigError once.
//
// environment.yaml (in the environment's folder):
//   name: practice              # required, [a-z0-9_-]+
//   title: Practice exam        # required
//   duration: 5h                # required; 90s, 45m, 5h, 1h30m
//   pass_mark: 3                # required; total score (sum of task scores) to pass
//   threads: 2                  # optional, LibTorch threads for training (default 2)
//   compiler:                   # optional
//     flags: [-O1]              # extra flags for the candidate's code (default [-O1])
//     timeout: 2m               # compile time limit (default 2m)
//     std: c++17                # the language standard candidate code is compiled
//                               #   with, in the grader, the syntax check and the
//                               #   workspace's CMakeLists.txt / compile_commands.json:
//                               #   c++17 (default), c++20, gnu++17 or gnu++20
//     id: clang                 # gcc or clang: picks the compiler of candidate code
//     version: ">=12"           # pin: a version requirement (version_spec.hpp)
//   libtorch:                   # optional pins
//     version: 1.13.1           #   exact, prefix (1.13) or range (">=1.13, <2")
//     cxx11_abi: 1              #   _GLIBCXX_USE_CXX11_ABI, 0 or 1
//   cmake: {version: ">=3.25"}  # optional pin
//   resources: {disk: 2GiB, memory: 4GiB}   # optional: free disk (state and
//                               #   cache folders) and available memory needed
//   cuda: none                  # optional: none (default), optional or required
//   sandbox:                    # optional: the isolation floor
//     require: [pid_namespace, rlimits]      # names from sandbox/layers.hpp
//   grading:                    # optional: where grading jobs run (docs/slurm.md)
//     backend: local            #   local (default): here; slurm: batch jobs on a cluster
//     slurm:                    #   required with backend: slurm
//       shared_dir: /shared/te  #   required, absolute: job folders and the build cache,
//                               #   on a filesystem every node mounts
//       partition: exam         #   optional (default: the cluster's default)
//       user: nobody            #   optional: who jobs run as when the daemon is root
//       conf: /etc/slurm/slurm.conf   # optional: SLURM_CONF for the tools
//       poll: 500ms             #   optional: how often job states are read (default 500ms)
//       max_jobs: 256           #   optional: submissions in the scheduler at once
//       sbatch_args: [--qos=exam]     # optional: more sbatch options
//     repeat_score: live        #   optional: the score taken when gradings of one source
//                               #   disagree (a regrade, `grade --repeat`): live (default:
//                               #   the live grading's, for --repeat the first run's), best,
//                               #   or median
//   report:                     # optional: what a report and the daemon's replies show
//     diagnostics: full         #   full or metric_only; unset: full in a practice session,
//                               #   metric_only in an exam-mode one until it closes
//                               #   (exam/report_visibility.hpp)
//   tasks: [fashion_mnist]      # required, non-empty; each a sub-folder with task.yaml
//   data:                       # optional: data sets installed by `torchexam data`
//     - name: auto-mpg          #   [a-z0-9_-]+
//       apt: python3-vega-datasets      # or npm: "@scope/pkg@1.2.3",
//                                       # or installed: dataset-fashion-mnist
//       files:
//         - path: usr/lib/python3/dist-packages/vega_datasets/_data/cars.json
//           sha256: 0123...     #   64 hex digits
//         - tree: usr/share/tuxpaint/stamps   # a folder; sha256 of its manifest
//           sha256: 4567...
//
// task.yaml (in <environment>/<task>/):
//   title: ...                  # required
//   statement: README.md        # required, file must exist
//   plugin: fashion_mnist       # required, plugin name
//   metric: accuracy            # required
//   ladder: [a, b, c, d, e]     # required: metric for scores 1..5, strictly
//                               # increasing (higher is better) or decreasing
//   time_budget: 10m            # required, training budget
//   memory_limit: 4GiB          # required; B, KiB, MiB, GiB
//   seed: 42                    # optional (default 0)
//   starter: starter.cpp        # required, file must exist
//   reference: reference.cpp    # optional, file must exist when given
//   options: {key: value}       # optional, passed to the plugin as strings
//   threads: 1                  # optional: LibTorch threads for this task (default:
//                               # the environment's; tiny models run faster on 1)
//   data: auto-mpg              # optional: an environment data set; the plugin
//                               # gets data_dir=<data directory>/<name>
//
// Failure: ConfigError (never yaml-cpp's exceptions). Thread-safe: pure.
#pragma once

#include "config/version_spec.hpp"

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::config {

struct Mark {
  std::string file;
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based; 0 when unknown
  std::string str() const;  // "file:line:column", or "file" when unknown
};

struct Diagnostic {
  Mark where;
  std::string message;
};

class ConfigError : public std::runtime_error {
 public:
  explicit ConfigError(std::vector<Diagnostic> diagnostics);
  const std::vector<Diagnostic>& diagnostics() const { return diagnostics_; }

 private:
  std::vector<Diagnostic> diagnostics_;  // what(): one "file:line:col: message" per line
};

// Metric -> score 0..5. thresholds[i] is the metric needed for score i + 1.
struct Ladder {
  std::vector<double> thresholds;
  bool higher_is_better = true;
  Mark where;
  // The number of thresholds met: metric >= t (higher is better) or
  // metric <= t (lower is better). NaN scores 0.
  int score(double metric) const;
};

// A data set the environment installs offline: files taken out of a Debian
// package (`apt`) or an npm package (`npm`, "name@version"), each checked by
// SHA-256. A `tree` item is a whole folder; its sha256 is that of the
// manifest: one "<sha256>  <relative path>\n" line per file, sorted by path.
struct DataItem {
  std::string path;  // inside the package, e.g. usr/share/foo/bar.json
  std::string sha256;
  bool tree = false;
  Mark where;
};

struct DataSet {
  std::string name;  // [a-z0-9_-]+; the folder under the data directory
  std::string apt;   // a Debian package, or
  std::string npm;   // an npm package with its version, or
  std::string installed;  // a Debian package installed system-wide (apt-get install);
                          // item paths are then relative to '/'
  std::vector<DataItem> items;
  Mark where;
};

struct TaskConfig {
  std::string id;  // the task's folder name
  std::filesystem::path dir;
  std::string title;
  std::filesystem::path statement;  // absolute
  std::string plugin;
  Mark plugin_mark;
  std::string metric;
  Mark metric_mark;
  Ladder ladder;
  double time_budget_s = 0;
  uint64_t memory_limit_bytes = 0;
  uint64_t seed = 0;
  std::filesystem::path starter;    // absolute
  std::filesystem::path reference;  // absolute, empty when none
  std::map<std::string, std::string> options;
  std::string data;  // the environment data set the plugin reads ("" when none)
  int threads = 0;   // LibTorch threads for this task; 0: the environment's
  Mark data_mark;
};

// What the environment pins about the machine; `torchexam doctor` checks
// each against what it finds. Empty or unset members are not pinned.
struct Pins {
  std::string compiler_id;       // "gcc" | "clang" | "" (any)
  VersionSpec compiler_version;  // empty: any
  VersionSpec libtorch_version;
  int cxx11_abi = -1;  // _GLIBCXX_USE_CXX11_ABI: 0 | 1 | -1 (not pinned)
  VersionSpec cmake_version;
  uint64_t disk_bytes = 0;    // free space in the state and cache folders
  uint64_t memory_bytes = 0;  // available memory (MemAvailable)
  enum class Cuda { none, optional, required } cuda = Cuda::none;
  std::vector<std::string> sandbox_require;  // layer names (sandbox::kLayerNames)
};

const char* to_string(Pins::Cuda c);

// The language standards candidate code may be compiled with (-std=...).
// Every SDK header a candidate may include compiles under each of them.
inline constexpr const char* kDefaultCxxStandard = "c++17";
// The default of `compiler: flags:`: candidate code trains as fast as at -O2
// and compiles in a third less time (bench/compile_flags).
inline constexpr const char* kDefaultCompilerFlag = "-O1";
inline const std::vector<std::string> kCxxStandards{"c++17", "c++20", "gnu++17", "gnu++20"};

// Where grading jobs run (harness/backend/).
struct Grading {
  enum class Backend { local, slurm } backend = Backend::local;
  struct Slurm {
    std::filesystem::path shared_dir;  // absolute
    std::string partition;             // empty: the cluster's default
    std::string user = "nobody";       // jobs run as this user when the daemon is root
    std::filesystem::path conf;        // empty: the tools' default ($SLURM_CONF, /etc/slurm)
    double poll_s = 0.5;
    int max_jobs = 256;
    std::vector<std::string> sbatch_args;
  } slurm;
  // How a task's score is taken when gradings of one source disagree.
  enum class RepeatScore { live, best, median } repeat_score = RepeatScore::live;
};

const char* to_string(Grading::Backend b);
const char* to_string(Grading::RepeatScore r);

// What a report, and the daemon's submission records, may show of the task
// diagnostics computed from the hidden labels (environment.yaml `report:`).
struct Report {
  enum class Diagnostics {
    full,         // the metric and the task's diagnostics
    metric_only,  // the metric only
  };
  // Unset: the session's mode decides (exam/report_visibility.hpp).
  std::optional<Diagnostics> diagnostics;
};

const char* to_string(Report::Diagnostics d);

struct Environment {
  std::string name;
  std::string title;
  std::filesystem::path dir;  // absolute
  double duration_s = 0;
  int pass_mark = 0;
  int threads = 2;
  std::vector<std::string> compiler_flags{kDefaultCompilerFlag};
  double compile_timeout_s = 120;
  std::string compiler_std = kDefaultCxxStandard;  // one of kCxxStandards, for -std=
  std::vector<TaskConfig> tasks;
  std::vector<DataSet> data;
  Pins pins;
  Grading grading;
  Report report;

  const TaskConfig* find_task(std::string_view id) const;
  // "no task 'fashion' in WHERE; did you mean 'fashion_mnist'? (tasks: ...)"
  std::string unknown_task(std::string_view id, std::string_view where) const;
  const DataSet* find_data(std::string_view name) const;
};

// Reads dir/environment.yaml and every listed task's task.yaml.
Environment load_environment(const std::filesystem::path& dir);

// "90s", "45m", "5h", "1h30m", "2m30s" -> seconds, at most a year (8784h).
// Throws std::invalid_argument.
double parse_duration(std::string_view text);
// "512MiB", "4GiB", "1024KiB", "100B", "1000" (bytes) -> bytes. Throws std::invalid_argument.
uint64_t parse_size(std::string_view text);

// The closest of `known` to `word` within a small edit distance, or "".
std::string closest_match(std::string_view word, const std::vector<std::string>& known);

}  // namespace torchexam::config
