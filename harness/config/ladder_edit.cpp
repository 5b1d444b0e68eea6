#include "config/ladder_edit.hpp"

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <sstream>
#include <stdexcept>

namespace torchexam::config {

namespace {

bool starts_ladder_key(const std::string& line) {
  if (line.rfind("ladder", 0) != 0) return false;
  size_t i = 6;
  while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
  return i < line.size() && line[i] == ':';
}

// The line's text without a trailing comment (a '#' after a space, outside quotes).
std::string without_comment(const std::string& line) {
  char quote = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const char c = line[i];
    if (quote) {
      if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (c == '#' && (i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t')) {
      return line.substr(0, i);
    }
  }
  return line;
}

}  // namespace

std::string replace_ladder(std::string_view task_yaml, const std::vector<std::string>& thresholds,
                           const std::vector<std::string>& comment) {
  std::vector<std::string> lines;
  {
    std::istringstream in{std::string(task_yaml)};
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  size_t at = lines.size();
  for (size_t i = 0; i < lines.size(); ++i)
    if (starts_ladder_key(lines[i])) {
      if (at != lines.size()) throw std::invalid_argument("task.yaml has more than one top-level 'ladder:' key");
      at = i;
    }
  if (at == lines.size()) throw std::invalid_argument("task.yaml has no top-level 'ladder:' key to replace");

  // Where the ladder's value ends (one past its last line).
  size_t end = at + 1;
  const std::string value = without_comment(lines[at].substr(lines[at].find(':') + 1));
  const size_t first = value.find_first_not_of(" \t");
  if (first != std::string::npos && value[first] == '[') {
    int depth = 0;
    for (size_t i = at; i < lines.size(); ++i) {
      const std::string text = i == at ? value : without_comment(lines[i]);
      for (char c : text) depth += c == '[' ? 1 : c == ']' ? -1 : 0;
      end = i + 1;
      if (depth <= 0) break;
    }
  } else if (first == std::string::npos) {  // a block sequence below the key
    while (end < lines.size() && !lines[end].empty() && (lines[end][0] == ' ' || lines[end][0] == '-' || lines[end][0] == '\t'))
      ++end;
  }
  size_t begin = at;  // the comment block right above
  while (begin > 0 && !lines[begin - 1].empty() && lines[begin - 1][0] == '#') --begin;

  std::string out;
  for (size_t i = 0; i < begin; ++i) out += lines[i] + "\n";
  for (const auto& c : comment) out += (c.empty() ? "#" : "# " + c) + "\n";
  out += "ladder: [";
  for (size_t i = 0; i < thresholds.size(); ++i) out += (i ? ", " : "") + thresholds[i];
  out += "]\n";
  for (size_t i = end; i < lines.size(); ++i) out += lines[i] + "\n";

  // The result must read back with exactly these thresholds.
  try {
    const YAML::Node root = YAML::Load(out);
    const YAML::Node ladder = root["ladder"];
    bool same = ladder && ladder.IsSequence() && ladder.size() == thresholds.size();
    for (size_t i = 0; same && i < thresholds.size(); ++i)
      same = ladder[i].as<double>() == std::stod(thresholds[i]);
    if (!same) throw std::invalid_argument("the rewritten task.yaml does not hold the new ladder");
  } catch (const YAML::Exception& e) {
    throw std::invalid_argument(std::string("the rewritten task.yaml does not parse: ") + e.what());
  }
  return out;
}

}  // namespace torchexam::config
