#include "cli/daemon_connection.hpp"

#include "base/paths.hpp"
#include "protocol/jsonrpc.hpp"

#include <fmt/format.h>

#include <optional>

namespace torchexam::cli {
namespace fs = std::filesystem;

namespace {
std::optional<RemoteOptions> the_server;
fs::path the_workspace;
}  // namespace

void use_server(RemoteOptions o, fs::path workspace) {
  the_server = std::move(o);
  the_workspace = std::move(workspace);
}
const fs::path& remote_workspace() { return the_workspace; }
const RemoteOptions* remote_server() { return the_server ? &*the_server : nullptr; }

std::unique_ptr<Client> connect_daemon(const std::string& socket_option) {
  if (the_server) {
    try {
      return Client::connect_tls(*the_server);
    } catch (const protocol::RpcError& e) {  // the login was refused
      fmt::print(stderr, "torchexam: the server {}:{} refused the login: {}\n", the_server->host, the_server->port,
                 e.what());
    } catch (const std::exception& e) {
      fmt::print(stderr, "torchexam: {}\n", e.what());
    }
    return nullptr;
  }
  const fs::path socket = socket_option.empty() ? paths::socket_path() : fs::path(socket_option);
  try {
    return connect_or_start(socket, paths::executable_dir() / "torchexamd", paths::state_dir() / "daemon.log", true);
  } catch (const ConnectError& e) {
    fmt::print(stderr, "torchexam: {}\n", e.what());
    return nullptr;
  }
}

int daemon_failure(std::exception_ptr error) {
  try {
    std::rethrow_exception(error);
  } catch (const protocol::RpcError& e) {
    fmt::print(stderr, "torchexam: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam: {}\n", e.what());
  }
  return 3;
}

}  // namespace torchexam::cli
