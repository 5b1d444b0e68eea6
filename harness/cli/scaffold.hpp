// scaffold.hpp — what `torchexam new-task` writes: a task folder rendered
// from the templates compiled into the program (harness/cli/templates/*.tmpl,
// embedded by harness/cli/CMakeLists.txt).
//
// A template is text with @VAR@ placeholders and kind sections: a line
// "@@if KIND..." starts lines kept only for those kinds, "@@endif" ends them
// (no nesting). render_template() throws std::logic_error for a placeholder
// it has no value for or an unbalanced section: a template bug, caught by the
// unit tests, never a user's input.
//
// Pure: nothing here touches the filesystem.
#pragma once

#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace torchexam::cli {

enum class TaskKind { classification, regression, forecast, custom };

inline constexpr const char* kTaskKinds = "classification, regression, forecast or custom";
std::optional<TaskKind> parse_task_kind(std::string_view text);
const char* to_string(TaskKind kind);

struct ScaffoldOptions {
  TaskKind kind = TaskKind::classification;
  std::string name;   // the task's id and plugin name, [a-z0-9_-]+
  std::string title;  // empty: made from the name
  int features = 4;   // classification, regression, custom: inputs per sample
  int classes = 3;    // classification
  int window = 8;     // forecast: inputs per window
  int horizon = 1;    // forecast: steps forecast
  std::filesystem::path data_dir;  // absolute; empty: a placeholder to fill in
  std::string files;               // "name=sha256,..."; empty: a placeholder
  std::string environment;         // non-empty: also write ../environment.yaml with this name
};

// Relative path (inside the task folder; "../environment.yaml" for the
// environment) -> content.
std::map<std::string, std::string> render_scaffold(const ScaffoldOptions& options);

std::string render_template(std::string_view text, std::string_view kind,
                            const std::map<std::string, std::string>& vars);

// The embedded templates by file name ("plugin.cpp", "task.yaml", ...).
const std::map<std::string, std::string_view>& scaffold_templates();

}  // namespace torchexam::cli
