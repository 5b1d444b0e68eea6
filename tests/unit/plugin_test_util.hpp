// Helpers shared by the task plugins' unit tests.
#pragma once

#include <torchexam/plugin.hpp>

#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "idx_writer.hpp"  // temp_dir

namespace torchexam::test {

// The built plugin of `task` (lib/torchexam/plugins/libtorchexam-task-TASK.so).
inline std::shared_ptr<PluginLibrary> open_task_plugin(const std::string& task) {
  const auto path = std::filesystem::path(TORCHEXAM_TEST_PLUGIN_DIR).parent_path() / "plugins" /
                    ("libtorchexam-task-" + task + ".so");
  return PluginLibrary::open(path.string());
}

// An installed data set: $TORCHEXAM_DATA_DIR/SET, else
// ~/.local/share/torchexam/data/SET (where `torchexam data` puts it).
inline std::filesystem::path installed_data_dir(const std::string& set) {
  if (const char* d = std::getenv("TORCHEXAM_DATA_DIR"); d && *d) return std::filesystem::path(d) / set;
  const char* home = std::getenv("HOME");
  return std::filesystem::path(home ? home : "") / ".local/share/torchexam/data" / set;
}

}  // namespace torchexam::test
