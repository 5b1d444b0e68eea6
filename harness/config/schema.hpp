// schema.hpp — stage two's schema: what each key of task.yaml and
// environment.yaml means (internal to harness/config; config.hpp documents
// the files).
//
//   task_schema.cpp         task.yaml: read_task(), the ladder
//   environment_schema.cpp  environment.yaml's top level and task list
//   settings_schema.cpp     its settings: compiler, libtorch, cmake,
//                           resources, cuda, sandbox, grading, report
//   data_schema.cpp         its data sets
//
// Every reader validates YAML nodes into the model of config.hpp with the
// building blocks of yaml_reader.hpp: a problem is reported to the Context
// and the value left at its default, so one pass finds every problem.
// Nothing here reads a file except the existence checks of read_existing_file;
// loader.cpp reads the files and throws ConfigError once. Threads: pure.
#pragma once

#include "config/config.hpp"
#include "config/yaml_reader.hpp"

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace torchexam::config::detail {

inline constexpr int kMaxScore = 5;  // a task scores 0..5: one point per ladder threshold
inline constexpr int kMinThreads = 1;
inline constexpr int kMaxThreads = 64;

// task.yaml of the task in folder `dir`, whose id (folder name) is `id`.
TaskConfig read_task(Context& cx, const YAML::Node& root, std::string id, std::filesystem::path dir);

// environment.yaml's `data:` list.
std::optional<std::vector<DataSet>> read_data_list(Context& cx, const Entry& e);

// environment.yaml's settings, each one key's value.
void read_compiler(Context& cx, const Entry& e, Environment& env);
void read_libtorch(Context& cx, const Entry& e, Pins& pins);
void read_cmake(Context& cx, const Entry& e, Pins& pins);
void read_resources(Context& cx, const Entry& e, Pins& pins);
void read_cuda(Context& cx, const Entry& e, Pins& pins);
void read_sandbox(Context& cx, const Entry& e, Pins& pins);
void read_grading(Context& cx, const Entry& e, Grading& g);
void read_report(Context& cx, const Entry& e, Report& r);

// environment.yaml as read: the model without tasks, and the task list.
struct EnvironmentFile {
  Environment env;
  std::vector<Located> tasks;  // the valid entries of 'tasks'
  size_t listed_tasks = 0;     // all its entries, valid or not
};

EnvironmentFile read_environment(Context& cx, const YAML::Node& root);

}  // namespace torchexam::config::detail
