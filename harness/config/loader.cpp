// loader.cpp — load_environment(): runs both stages on environment.yaml and
// every listed task's task.yaml, then checks what spans files (each task's
// data set is declared), and throws ConfigError once with every diagnostic.
//
// Error policy: nothing in the loader throws until the very end of
// load_environment(); yaml-cpp's exceptions are caught where they can arise
// (parsing in read_yaml, and around each file's validation here) and become
// diagnostics.
#include "config/config.hpp"

#include "config/schema.hpp"
#include "config/yaml_reader.hpp"

#include <system_error>
#include <utility>

namespace torchexam::config {

namespace fs = std::filesystem;

namespace {

using detail::Context;
using detail::Located;

// Runs a validation step, turning a stray yaml-cpp exception into a diagnostic.
template <typename Step>
void guarded(Context& cx, Step&& step) {
  try {
    step();
  } catch (const YAML::Exception& e) {
    cx.report(detail::to_mark(cx.file(), e.mark), "unexpected YAML error: " + e.msg);
  }
}

// In both functions below, `shown_dir` is the environment's folder as the
// user gave it (for messages), `abs_dir` the same folder made absolute.

// The listed tasks that have a folder; the others are reported.
std::vector<Located> with_folders(Context& cx, const fs::path& shown_dir, const fs::path& abs_dir,
                                  const std::vector<Located>& tasks) {
  std::vector<Located> found;
  for (const Located& ref : tasks) {
    std::error_code error;
    if (fs::is_directory(abs_dir / ref.text, error)) {
      found.push_back(ref);
    } else {
      cx.report(ref.where, "task '" + ref.text + "' has no folder " + (shown_dir / ref.text).string() +
                               "; each listed task needs a folder holding its task.yaml");
    }
  }
  return found;
}

std::optional<TaskConfig> load_task(const fs::path& shown_dir, const fs::path& abs_dir, const Located& ref,
                                    std::vector<Diagnostic>& out) {
  const fs::path file = shown_dir / ref.text / "task.yaml";
  const std::optional<YAML::Node> root = detail::read_yaml(file, "the task's description (task.yaml)", out);
  if (!root) return std::nullopt;
  Context cx(file.string(), out);
  std::optional<TaskConfig> task;
  guarded(cx, [&] { task = detail::read_task(cx, *root, ref.text, abs_dir / ref.text); });
  return task;
}

}  // namespace

Environment load_environment(const fs::path& dir) {
  std::vector<Diagnostic> diagnostics;
  std::error_code error;
  if (!fs::is_directory(dir, error)) {
    diagnostics.push_back({Mark{dir.string()}, "no such folder; expected an environment folder holding "
                                               "environment.yaml and one sub-folder per task"});
    throw ConfigError(std::move(diagnostics));
  }
  const fs::path abs_dir = fs::absolute(dir, error).lexically_normal();
  const fs::path file = dir / "environment.yaml";
  const std::optional<YAML::Node> root =
      detail::read_yaml(file, "the environment's description (environment.yaml)", diagnostics);
  if (!root) throw ConfigError(std::move(diagnostics));

  Context cx(file.string(), diagnostics);
  detail::EnvironmentFile read;
  guarded(cx, [&] { read = detail::read_environment(cx, *root); });
  read.env.dir = abs_dir;
  // Every problem in environment.yaml first, then each task's file.
  const std::vector<Located> found = with_folders(cx, dir, abs_dir, read.tasks);
  for (const Located& ref : found) {
    if (auto task = load_task(dir, abs_dir, ref, diagnostics)) read.env.tasks.push_back(std::move(*task));
  }
  for (const auto& task : read.env.tasks) {
    if (task.data.empty() || read.env.find_data(task.data)) continue;
    std::string names;
    for (const auto& d : read.env.data) names += (names.empty() ? "" : ", ") + d.name;
    diagnostics.push_back({task.data_mark, "data set '" + task.data + "' is not declared in environment.yaml's 'data' (" +
                                               (names.empty() ? std::string("none is") : "declared: " + names) + ")"});
  }
  if (!diagnostics.empty()) throw ConfigError(std::move(diagnostics));
  return std::move(read.env);
}

}  // namespace torchexam::config
