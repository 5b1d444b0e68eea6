// model.cpp — the members of config.hpp's model: Mark, ConfigError,
// Ladder::score, the enum names, and the Environment look-ups.
#include "config/config.hpp"

#include "config/text.hpp"

#include <algorithm>
#include <cmath>
#include <utility>

namespace torchexam::config {

std::string Mark::str() const {
  if (line == 0) return file;
  std::string out = file + ":" + std::to_string(line);
  if (column != 0) out += ":" + std::to_string(column);
  return out;
}

namespace {

std::string describe_all(const std::vector<Diagnostic>& diagnostics) {
  std::string out;
  for (const Diagnostic& d : diagnostics) {
    if (!out.empty()) out += '\n';
    out += d.where.str() + ": " + d.message;
  }
  return out;
}

}  // namespace

ConfigError::ConfigError(std::vector<Diagnostic> diagnostics)
    : std::runtime_error(describe_all(diagnostics)), diagnostics_(std::move(diagnostics)) {}

int Ladder::score(double metric) const {
  if (std::isnan(metric)) return 0;
  return static_cast<int>(std::count_if(thresholds.begin(), thresholds.end(), [&](double t) {
    return higher_is_better ? metric >= t : metric <= t;
  }));
}

const char* to_string(Pins::Cuda c) {
  switch (c) {
    case Pins::Cuda::none: return "none";
    case Pins::Cuda::optional: return "optional";
    case Pins::Cuda::required: return "required";
  }
  return "none";
}

const char* to_string(Grading::Backend b) { return b == Grading::Backend::slurm ? "slurm" : "local"; }

const char* to_string(Report::Diagnostics d) { return d == Report::Diagnostics::metric_only ? "metric_only" : "full"; }

const char* to_string(Grading::RepeatScore r) {
  switch (r) {
    case Grading::RepeatScore::live: return "live";
    case Grading::RepeatScore::best: return "best";
    case Grading::RepeatScore::median: return "median";
  }
  return "live";
}

std::string Environment::unknown_task(std::string_view id, std::string_view where) const {
  std::vector<std::string> ids;
  for (const auto& t : tasks) ids.push_back(t.id);
  std::string guess = closest_match(id, ids);
  if (guess.empty() && !id.empty()) {  // a part of one name: "fashion" for fashion_mnist
    std::vector<std::string> with;
    for (const auto& t : ids)
      if (t.find(id) != std::string::npos) with.push_back(t);
    if (with.size() == 1) guess = with.front();
  }
  return "no task '" + std::string(id) + "' in " + std::string(where) +
         (guess.empty() ? "" : "; did you mean '" + guess + "'?") + " (tasks: " + detail::join(ids, ", ") + ")";
}

const TaskConfig* Environment::find_task(std::string_view id) const {
  for (const TaskConfig& task : tasks) {
    if (task.id == id) return &task;
  }
  return nullptr;
}

const DataSet* Environment::find_data(std::string_view name) const {
  for (const DataSet& d : data) {
    if (d.name == name) return &d;
  }
  return nullptr;
}

}  // namespace torchexam::config
