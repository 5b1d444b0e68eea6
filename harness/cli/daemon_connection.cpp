#include "cli/daemon_connection.hpp"

#include "base/paths.hpp"

#include <fmt/format.h>

namespace torchexam::cli {
namespace fs = std::filesystem;

std::unique_ptr<Client> connect_daemon(const std::string& socket_option) {
  const fs::path socket = socket_option.empty() ? paths::socket_path() : fs::path(socket_option);
  try {
    return connect_or_start(socket, paths::executable_dir() / "torchexamd", paths::state_dir() / "daemon.log", true);
  } catch (const ConnectError& e) {
    fmt::print(stderr, "torchexam: {}\n", e.what());
    return nullptr;
  }
}

}  // namespace torchexam::cli
