// environment_schema.cpp — environment.yaml's top level (schema.hpp): name,
// title, duration, pass mark, threads and the task list; the settings and
// data sets it names are read by settings_schema.cpp and data_schema.cpp.
#include "config/schema.hpp"

#include "config/text.hpp"

#include <algorithm>
#include <climits>

namespace torchexam::config::detail {

namespace {

// A task id names a folder directly inside the environment's folder.
bool is_folder_name(std::string_view id) {
  return !id.empty() && id != "." && id != ".." && id.find_first_of("/\\") == std::string_view::npos;
}

// The task list: unique folder names. Invalid and repeated entries are
// reported and left out, so the valid ones are still loaded and checked.
std::optional<std::vector<Located>> read_task_list(Context& cx, const Entry& e) {
  std::optional<std::vector<Located>> listed = read_string_list(cx, e);
  if (!listed) return std::nullopt;
  if (listed->empty()) {
    cx.report(e.where, "key 'tasks' must list at least one task");
    return std::nullopt;
  }
  std::vector<Located> tasks;
  for (const Located& task : *listed) {
    const auto earlier = std::find_if(tasks.begin(), tasks.end(),
                                      [&](const Located& t) { return t.text == task.text; });
    if (!is_folder_name(task.text)) {
      cx.report(task.where, "task '" + task.text + "' must be the name of a folder inside " + cx.folder());
    } else if (earlier != tasks.end()) {
      cx.report(task.where, "task '" + task.text + "' is listed twice (first at line " +
                                std::to_string(earlier->where.line) + ")");
    } else {
      tasks.push_back(task);
    }
  }
  return tasks;
}

void check_pass_mark(Context& cx, const EnvironmentFile& file, const std::optional<Mark>& where) {
  if (!where || file.listed_tasks == 0) return;
  const int most = kMaxScore * static_cast<int>(file.listed_tasks);
  if (file.env.pass_mark > most) {
    cx.report(*where, "pass_mark " + std::to_string(file.env.pass_mark) + " cannot be reached: " +
                          std::to_string(file.listed_tasks) + " task(s) score at most " + std::to_string(most));
  }
}

}  // namespace

EnvironmentFile read_environment(Context& cx, const YAML::Node& root) {
  EnvironmentFile file;
  Environment& env = file.env;
  std::optional<Mark> pass_mark_at;  // set when pass_mark was read
  MapReader(cx, "environment.yaml")
      .required("name",
                [&](const Entry& e) { set(env.name, read_string_that(cx, e, is_valid_name, kNameRule)); })
      .required("title", [&](const Entry& e) { set(env.title, read_string(cx, e)); })
      .required("duration", [&](const Entry& e) { set(env.duration_s, read_duration(cx, e)); })
      .required("pass_mark",
                [&](const Entry& e) {
                  if (const std::optional<int> mark = read_int(cx, e, 0, INT_MAX)) {
                    env.pass_mark = *mark;
                    pass_mark_at = e.where;
                  }
                })
      .optional("threads", [&](const Entry& e) { set(env.threads, read_int(cx, e, kMinThreads, kMaxThreads)); })
      .optional("compiler", [&](const Entry& e) { read_compiler(cx, e, env); })
      .optional("data", [&](const Entry& e) { set(env.data, read_data_list(cx, e)); })
      .optional("libtorch", [&](const Entry& e) { read_libtorch(cx, e, env.pins); })
      .optional("cmake", [&](const Entry& e) { read_cmake(cx, e, env.pins); })
      .optional("resources", [&](const Entry& e) { read_resources(cx, e, env.pins); })
      .optional("cuda", [&](const Entry& e) { read_cuda(cx, e, env.pins); })
      .optional("sandbox", [&](const Entry& e) { read_sandbox(cx, e, env.pins); })
      .optional("grading", [&](const Entry& e) { read_grading(cx, e, env.grading); })
      .optional("report", [&](const Entry& e) { read_report(cx, e, env.report); })
      .required("tasks",
                [&](const Entry& e) {
                  set(file.tasks, read_task_list(cx, e));
                  if (e.value.IsSequence()) file.listed_tasks = e.value.size();
                })
      .alias("time_limit", "duration")
      .alias("time", "duration")
      .alias("torch", "libtorch")
      .alias("requirements", "resources")
      .alias("gpu", "cuda")
      .alias("reports", "report")
      .alias("results", "report")
      .read(root);
  check_pass_mark(cx, file, pass_mark_at);
  return file;
}

}  // namespace torchexam::config::detail
