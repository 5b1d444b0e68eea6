// Checks of the environment's own parts: task plugins and data sets.
#include "doctor/checks.hpp"

#include "config/data_sets.hpp"

#include <torchexam/plugin.hpp>

namespace torchexam::doctor {
namespace fs = std::filesystem;

CheckResult check_plugin_abi(const std::string& task, const fs::path& plugin, const std::string& lookup_error) {
  CheckResult r;
  r.name = "plugin " + task;
  r.expected = "plugin ABI version " + std::to_string(TORCHEXAM_PLUGIN_ABI_VERSION);
  if (plugin.empty()) {
    r.status = Status::fail;
    r.found = lookup_error;
    r.fix = "build the plugins: cmake --build build (or add their folder to TORCHEXAM_PLUGIN_PATH)";
    return r;
  }
  try {
    auto lib = PluginLibrary::open(plugin.string());
    r.found = "ABI version " + std::to_string(TORCHEXAM_PLUGIN_ABI_VERSION) + " (" + plugin.string() + ")";
  } catch (const std::exception& e) {
    r.status = Status::fail;
    r.found = e.what();
    r.fix =
        "rebuild the plugin against this TorchExam SDK (plugins/include): cmake --build build, or rebuild "
        "your own plugin with the SDK's plugin_abi.h";
  }
  return r;
}

CheckResult check_data_set(const config::DataSet& set, const fs::path& data_root, const fs::path& env_dir) {
  CheckResult r;
  r.name = "data " + set.name;
  r.expected =
      std::to_string(set.items.size()) + " item(s) from " + data_sets::source_text(set) + ", each with its sha256";
  data_sets::SetStatus status;
  try {
    status = data_sets::check(set, data_root);
  } catch (const std::exception& e) {
    r.status = Status::fail;
    r.found = std::string("cannot read the data set: ") + e.what();
    r.fix = data_sets::install_command(set, env_dir);
    return r;
  }
  std::string problems;
  for (const auto& item : status.items) {
    if (item.state == data_sets::ItemStatus::State::ok) continue;
    if (!problems.empty()) problems += "; ";
    if (item.state == data_sets::ItemStatus::State::missing)
      problems += item.local.string() + " is missing";
    else
      problems += item.local.string() + " has sha256 " + item.actual_sha256 + ", expected " + item.item->sha256;
  }
  if (problems.empty()) {
    r.found = "all " + std::to_string(status.items.size()) + " item(s) verified in " + status.dir.string();
    return r;
  }
  r.status = Status::fail;
  r.found = problems;
  r.fix = data_sets::install_command(set, env_dir);
  if (!set.installed.empty()) r.fix += " (or apt-get install --reinstall " + set.installed + " when a file differs)";
  return r;
}

}  // namespace torchexam::doctor
