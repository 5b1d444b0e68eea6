// data_schema.cpp — environment.yaml's data sets (schema.hpp): where each
// comes from (apt, npm or installed) and the files taken from it, each with
// its sha256.
#include "config/schema.hpp"

#include "base/hash.hpp"
#include "config/text.hpp"

#include <utility>

namespace torchexam::config::detail {

namespace {

std::optional<DataItem> read_data_item(Context& cx, const YAML::Node& node) {
  if (!node.IsMap()) {
    cx.report(node, "each entry of 'files' must be a map with 'path' (or 'tree') and 'sha256', got " + describe(node));
    return std::nullopt;
  }
  DataItem item;
  item.where = cx.at(node);
  bool have_path = false;
  MapReader(cx, "a data file")
      .optional("path",
                [&](const Entry& e) {
                  set(item.path, read_string(cx, e));
                  have_path = !item.path.empty();
                })
      .optional("tree",
                [&](const Entry& e) {
                  set(item.path, read_string(cx, e));
                  item.tree = true;
                  have_path = !item.path.empty();
                })
      .required("sha256",
                [&](const Entry& e) {
                  set(item.sha256, read_string_that(cx, e, is_sha256_hex, "be 64 lower-case hex digits"));
                })
      .read(node);
  if (!have_path) {
    cx.report(item.where, "a data file needs 'path' (one file) or 'tree' (a folder)");
    return std::nullopt;
  }
  if (item.path.front() == '/' || item.path.find("..") != std::string::npos) {
    cx.report(item.where, "'" + item.path + "' must be a relative path inside the package, without '..'");
    return std::nullopt;
  }
  return item;
}

}  // namespace

std::optional<std::vector<DataSet>> read_data_list(Context& cx, const Entry& e) {
  if (!e.value.IsSequence()) {
    type_error(cx, e, "a list of data sets");
    return std::nullopt;
  }
  std::vector<DataSet> out;
  for (size_t i = 0; i < e.value.size(); ++i) {
    const YAML::Node node = e.value[i];
    if (!node.IsMap()) {
      cx.report(node, "entry " + std::to_string(i + 1) + " of 'data' must be a map, got " + describe(node));
      continue;
    }
    DataSet d;
    d.where = cx.at(node);
    MapReader(cx, "a data set")
        .required("name",
                  [&](const Entry& n) { set(d.name, read_string_that(cx, n, is_valid_name, kNameRule)); })
        .optional("apt", [&](const Entry& a) { set(d.apt, read_string(cx, a)); })
        .optional("npm", [&](const Entry& n) { set(d.npm, read_string(cx, n)); })
        .optional("installed", [&](const Entry& n) { set(d.installed, read_string(cx, n)); })
        .required("files",
                  [&](const Entry& f) {
                    if (!f.value.IsSequence() || f.value.size() == 0) {
                      type_error(cx, f, "a non-empty list of files");
                      return;
                    }
                    for (size_t j = 0; j < f.value.size(); ++j)
                      if (auto item = read_data_item(cx, f.value[j])) d.items.push_back(std::move(*item));
                  })
        .read(node);
    if (int(!d.apt.empty()) + int(!d.npm.empty()) + int(!d.installed.empty()) != 1)
      cx.report(d.where,
                "data set '" + d.name +
                    "' needs exactly one source: 'apt: PACKAGE', 'npm: PACKAGE@VERSION' or 'installed: PACKAGE'");
    for (const auto& other : out)
      if (!d.name.empty() && other.name == d.name) cx.report(d.where, "data set '" + d.name + "' is declared twice");
    out.push_back(std::move(d));
  }
  return out;
}

}  // namespace torchexam::config::detail
