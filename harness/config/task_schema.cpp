// task_schema.cpp — task.yaml: its keys and the ladder (schema.hpp).
#include "config/schema.hpp"

#include "config/text.hpp"

#include <algorithm>
#include <functional>
#include <utility>

namespace torchexam::config::detail {

namespace fs = std::filesystem;

namespace {

constexpr uint64_t kMinMemoryLimit = 64 * kMiB;

// "[0.5, 0.7, 0.6]" as written in the file.
std::string show_list(const YAML::Node& list) {
  std::vector<std::string> items;
  for (const auto& item : list) items.push_back(item.IsScalar() ? item.Scalar() : describe(item));
  return "[" + join(items, ", ") + "]";
}

std::optional<Ladder> read_ladder(Context& cx, const Entry& e) {
  if (!e.value.IsSequence()) {
    type_error(cx, e, "a list of " + std::to_string(kMaxScore) + " numbers");
    return std::nullopt;
  }
  Ladder ladder;
  ladder.where = e.where;
  if (e.value.size() != static_cast<size_t>(kMaxScore)) {
    cx.report(ladder.where, "ladder must have exactly " + std::to_string(kMaxScore) +
                                " thresholds, the metric needed for scores 1 to 5; got " +
                                std::to_string(e.value.size()));
    return std::nullopt;
  }
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node item = e.value[i];
    const std::optional<double> value = item.IsScalar() ? parse_number(item.Scalar()) : std::nullopt;
    if (!value) {
      cx.report(item, "ladder entry " + std::to_string(i + 1) + " must be a number, got " + describe(item));
      return std::nullopt;
    }
    ladder.thresholds.push_back(*value);
  }
  const auto& t = ladder.thresholds;
  const bool increasing = std::adjacent_find(t.begin(), t.end(), std::greater_equal<>()) == t.end();
  const bool decreasing = std::adjacent_find(t.begin(), t.end(), std::less_equal<>()) == t.end();
  if (!increasing && !decreasing) {
    cx.report(ladder.where,
              "ladder must be strictly increasing (a higher metric is better) or strictly decreasing "
              "(a lower metric is better), got " + show_list(e.value));
    return std::nullopt;
  }
  ladder.higher_is_better = increasing;
  return ladder;
}

// Reads one YAML mapping: each key goes to the handler registered for it;

}  // namespace

TaskConfig read_task(Context& cx, const YAML::Node& root, std::string id, fs::path dir) {
  TaskConfig task;
  task.id = std::move(id);
  task.dir = std::move(dir);
  MapReader(cx, "task.yaml")
      .required("title", [&](const Entry& e) { set(task.title, read_string(cx, e)); })
      .required("statement", [&](const Entry& e) { set(task.statement, read_existing_file(cx, e, task.dir)); })
      .required("plugin",
                [&](const Entry& e) {
                  set(task.plugin, read_string_that(cx, e, is_valid_name, "be a plugin name (a-z, 0-9, '_', '-')"));
                  task.plugin_mark = e.where;
                })
      .required("metric",
                [&](const Entry& e) {
                  set(task.metric, read_string(cx, e));
                  task.metric_mark = e.where;
                })
      .required("ladder", [&](const Entry& e) { set(task.ladder, read_ladder(cx, e)); })
      .required("time_budget", [&](const Entry& e) { set(task.time_budget_s, read_duration(cx, e)); })
      .required("memory_limit",
                [&](const Entry& e) { set(task.memory_limit_bytes, read_size(cx, e, kMinMemoryLimit, "64MiB")); })
      .optional("seed", [&](const Entry& e) { set(task.seed, read_unsigned(cx, e)); })
      .required("starter", [&](const Entry& e) { set(task.starter, read_existing_file(cx, e, task.dir)); })
      .optional("reference", [&](const Entry& e) { set(task.reference, read_existing_file(cx, e, task.dir)); })
      .optional("options", [&](const Entry& e) { set(task.options, read_string_map(cx, e)); })
      .optional("threads", [&](const Entry& e) { set(task.threads, read_int(cx, e, kMinThreads, kMaxThreads)); })
      .optional("data",
                [&](const Entry& e) {
                  set(task.data, read_string(cx, e));
                  task.data_mark = e.where;
                })
      .alias("thresholds", "ladder")
      .alias("threshold", "ladder")
      .alias("levels", "ladder")
      .alias("time_limit", "time_budget")
      .alias("memory", "memory_limit")
      .read(root);
  return task;
}

}  // namespace torchexam::config::detail
