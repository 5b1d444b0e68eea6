// new_task_command.hpp — `torchexam new-task DIR --kind KIND`: a task folder
// scaffolded from the templates (scaffold.hpp), ready to build out of tree:
//
//   DIR/task.yaml  README.md  starter.cpp  reference.cpp
//   DIR/plugin/CMakeLists.txt  NAME.cpp  test_NAME.cpp   (find_package(TorchExam))
//   DIR/../environment.yaml    only when the parent folder has none yet
//
// NAME is DIR's last component ([a-z0-9_-]+): the task id and the plugin's
// name. --data FOLDER lists FOLDER's *.csv files with their sha256 in
// task.yaml's options (data_dir, files); without it they are placeholders.
//
// Refuses, writing nothing, when DIR exists and is not an empty folder, when
// NAME or the parent folder's name (for a new environment.yaml) is not a
// valid name, or when --data has no *.csv file. Exit status: 0 written, 2
// refused (the message says why and what to do), 3 a write failed.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace torchexam::cli {

class NewTaskCommand {
 public:
  explicit NewTaskCommand(CLI::App& app);
  // The exit status when `new-task` was given, nullopt otherwise.
  std::optional<int> run();

 private:
  CLI::App* cmd_;
  std::string dir_, kind_, data_, title_;
  int features_ = 4, classes_ = 3, window_ = 8, horizon_ = 1;
};

}  // namespace torchexam::cli
