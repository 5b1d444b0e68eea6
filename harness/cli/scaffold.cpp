#include "cli/scaffold.hpp"

#include <fmt/format.h>

#include <cctype>
#include <sstream>
#include <stdexcept>

namespace torchexam::cli {

std::optional<TaskKind> parse_task_kind(std::string_view text) {
  for (TaskKind k : {TaskKind::classification, TaskKind::regression, TaskKind::forecast, TaskKind::custom})
    if (text == to_string(k)) return k;
  return std::nullopt;
}

const char* to_string(TaskKind kind) {
  switch (kind) {
    case TaskKind::classification: return "classification";
    case TaskKind::regression: return "regression";
    case TaskKind::forecast: return "forecast";
    case TaskKind::custom: return "custom";
  }
  return "?";
}

std::string render_template(std::string_view text, std::string_view kind,
                            const std::map<std::string, std::string>& vars) {
  std::string out;
  std::istringstream in{std::string(text)};
  std::string line;
  bool in_section = false, keep = true;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (line.rfind("@@if ", 0) == 0) {
      if (in_section) throw std::logic_error(fmt::format("template line {}: @@if inside @@if", number));
      in_section = true;
      keep = false;
      std::istringstream kinds(line.substr(5));
      for (std::string k; kinds >> k;) keep = keep || k == kind;
      continue;
    }
    if (line == "@@endif") {
      if (!in_section) throw std::logic_error(fmt::format("template line {}: @@endif without @@if", number));
      in_section = false;
      keep = true;
      continue;
    }
    if (!keep) continue;
    for (size_t at = line.find('@'); at != std::string::npos; at = line.find('@', at)) {
      const size_t end = line.find('@', at + 1);
      const std::string name = end == std::string::npos ? "" : line.substr(at + 1, end - at - 1);
      const bool placeholder = !name.empty() && name.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ_0123456789") == std::string::npos;
      if (!placeholder) {
        ++at;
        continue;
      }
      auto it = vars.find(name);
      if (it == vars.end()) throw std::logic_error(fmt::format("template line {}: no value for @{}@", number, name));
      line.replace(at, end - at + 1, it->second);
      at += it->second.size();
    }
    out += line;
    out += '\n';
  }
  if (in_section) throw std::logic_error("template: @@if without @@endif");
  return out;
}

std::map<std::string, std::string> render_scaffold(const ScaffoldOptions& o) {
  const bool forecast = o.kind == TaskKind::forecast, classification = o.kind == TaskKind::classification;
  std::string title = o.title;
  if (title.empty()) {
    title = o.name;
    for (char& c : title)
      if (c == '_' || c == '-') c = ' ';
    if (!title.empty()) title[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(title[0])));
    title += std::string(" (") + to_string(o.kind) + ")";
  }
  std::string cname = o.name;
  for (char& c : cname)
    if (c == '-') c = '_';
  const std::string metric = classification ? "accuracy" : o.kind == TaskKind::custom ? "rmse" : "mae";
  const int in = forecast ? o.window : o.features;
  const int out = classification ? o.classes : forecast ? o.horizon : 1;
  std::map<std::string, std::string> vars{
      {"NAME", o.name},
      {"CNAME", cname},
      {"KIND", to_string(o.kind)},
      {"TITLE", title},
      {"FEATURES", std::to_string(o.features)},
      {"CLASSES", std::to_string(o.classes)},
      {"CLASSES_MINUS_1", std::to_string(o.classes - 1)},
      {"WINDOW", std::to_string(o.window)},
      {"HORIZON", std::to_string(o.horizon)},
      {"TEST_PERCENT", "20"},
      {"METRIC", metric},
      {"DIRECTION", classification ? "higher" : "lower"},
      // Placeholders until `torchexam calibrate --write`: strictly monotonic, as the loader requires.
      {"LADDER", classification ? "[0.5, 0.6, 0.7, 0.8, 0.9]" : "[5, 4, 3, 2, 1]"},
      {"DATA_DIR", o.data_dir.empty() ? "/path/to/the/data" : o.data_dir.string()},
      {"FILES", o.files.empty() ? "data.csv=<sha256 of data.csv>" : o.files},
      {"ENV_NAME", o.environment},
      {"IN", std::to_string(in)},
      {"OUT", std::to_string(out)},
      {"EPOCHS", forecast ? "40" : "30"},
      {"CONTRACT", fmt::format("x: float32 [N, {}] -> {} [N, {}]", in, classification ? "logits float32" : "float32", out)},
  };
  const std::string kind = to_string(o.kind);
  const auto& t = scaffold_templates();
  auto render = [&](const char* name) { return render_template(t.at(name), kind, vars); };
  std::map<std::string, std::string> files{
      {"task.yaml", render("task.yaml")},
      {"README.md", render("README.md")},
      {"starter.cpp", render("starter.cpp")},
      {"reference.cpp", render("reference.cpp")},
      {"plugin/CMakeLists.txt", render("CMakeLists.txt")},
      {"plugin/" + o.name + ".cpp", render("plugin.cpp")},
      {"plugin/test_" + o.name + ".cpp", render("plugin_test.cpp")},
  };
  if (!o.environment.empty()) files["../environment.yaml"] = render("environment.yaml");
  return files;
}

}  // namespace torchexam::cli
