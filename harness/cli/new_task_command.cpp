#include "cli/new_task_command.hpp"

#include "base/hash.hpp"
#include "cli/scaffold.hpp"
#include "config/text.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <system_error>
#include <vector>

namespace torchexam::cli {

namespace fs = std::filesystem;

NewTaskCommand::NewTaskCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("new-task",
                            "scaffold a task: plugin (built out of tree with find_package(TorchExam)), its unit test, "
                            "task.yaml, README.md, starter.cpp, reference.cpp");
  cmd_->add_option("DIR", dir_,
                   "the task's folder, inside an environment's folder (created; must not exist or be empty); its "
                   "name is the task id and plugin name")
      ->required();
  cmd_->add_option("--kind", kind_, std::string("the task's kind: ") + kTaskKinds)->required();
  cmd_->add_option("--data", data_,
                   "a folder of *.csv data files: task.yaml gets it as data_dir and each file with its sha256");
  cmd_->add_option("--title", title_, "the task's title (default: from its name)");
  cmd_->add_option("--features", features_, "inputs per sample (classification, regression, custom)")
      ->check(CLI::Range(1, 100000));
  cmd_->add_option("--classes", classes_, "classes (classification)")->check(CLI::Range(2, 10000));
  cmd_->add_option("--window", window_, "inputs per window (forecast)")->check(CLI::Range(1, 100000));
  cmd_->add_option("--horizon", horizon_, "steps forecast per window (forecast)")->check(CLI::Range(1, 1000));
}

std::optional<int> NewTaskCommand::run() {
  if (!cmd_->parsed()) return std::nullopt;
  auto refuse = [](const std::string& why) {
    fmt::print(stderr, "torchexam new-task: {}\n", why);
    return 2;
  };
  const auto kind = parse_task_kind(kind_);
  if (!kind) return refuse(fmt::format("unknown kind '{}': use {}", kind_, kTaskKinds));

  const fs::path dir = fs::absolute(fs::path(dir_)).lexically_normal();
  const fs::path folder = dir.filename().empty() ? dir.parent_path() : dir;  // "a/b/" names b
  const std::string name = folder.filename().string();
  if (!config::detail::is_valid_name(name))
    return refuse(fmt::format("'{}' cannot name a task: {} (the folder's name is the task id and plugin name)", name,
                              config::detail::kNameRule));
  std::error_code ec;
  if (fs::exists(folder, ec) && !(fs::is_directory(folder, ec) && fs::is_empty(folder, ec)))
    return refuse(fmt::format("{} already exists and is not an empty folder; nothing was written. Choose a new "
                              "folder, or empty this one",
                              folder.string()));

  ScaffoldOptions o;
  o.kind = *kind;
  o.name = name;
  o.title = title_;
  o.features = features_;
  o.classes = classes_;
  o.window = window_;
  o.horizon = horizon_;
  if (!data_.empty()) {
    const fs::path data = fs::absolute(fs::path(data_)).lexically_normal();
    if (!fs::is_directory(data, ec)) return refuse(fmt::format("--data {}: no such folder", data.string()));
    std::vector<fs::path> csv;
    for (const auto& e : fs::directory_iterator(data, ec))
      if (e.is_regular_file() && e.path().extension() == ".csv") csv.push_back(e.path());
    if (csv.empty())
      return refuse(fmt::format("--data {}: no *.csv file in it (the plugin reads CSV rows of numbers)", data.string()));
    std::sort(csv.begin(), csv.end());
    for (const auto& f : csv) {
      if (f.filename().string().find_first_of(",=") != std::string::npos)
        return refuse(fmt::format("--data: rename {}: a data file's name may not hold ',' or '='", f.string()));
      o.files += (o.files.empty() ? "" : ",") + f.filename().string() + "=" + sha256_hex(read_file(f));
    }
    o.data_dir = data;
  }
  const fs::path env_dir = folder.parent_path();
  const bool new_environment = !fs::exists(env_dir / "environment.yaml", ec);
  if (new_environment) {
    o.environment = env_dir.filename().string();
    if (!config::detail::is_valid_name(o.environment))
      return refuse(fmt::format("the environment folder '{}' has no environment.yaml, and its name cannot name a new "
                                "environment: {}. Put the task in a folder with a valid name",
                                env_dir.string(), config::detail::kNameRule));
  }

  try {
    const auto files = render_scaffold(o);
    for (const auto& [path, content] : files) {
      const fs::path target = (folder / path).lexically_normal();
      fs::create_directories(target.parent_path());
      write_file_atomically(target, content);
      fmt::print("wrote {}\n", target.string());
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam new-task: {}\n", e.what());
    return 3;
  }
  if (!new_environment)
    fmt::print("{}/environment.yaml was left as it was: add '- {}' under its tasks:\n", env_dir.string(), name);
  fmt::print(
      "next (docs/plugins.md walks through them):\n"
      "  cmake -S {0}/plugin -B {0}/plugin/build -DCMAKE_PREFIX_PATH=<TorchExam's install prefix>\n"
      "  cmake --build {0}/plugin/build && ctest --test-dir {0}/plugin/build\n"
      "  export TORCHEXAM_PLUGIN_PATH={0}/plugin/build/plugins\n"
      "  torchexam calibrate {1} {2} --seeds 3 --write\n",
      folder.string(), env_dir.string(), name);
  if (o.files.empty())
    fmt::print("  (first fill in data_dir and files in {}/task.yaml, or scaffold again with --data)\n", folder.string());
  return 0;
}

}  // namespace torchexam::cli
