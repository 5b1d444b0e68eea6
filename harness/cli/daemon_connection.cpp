#include "cli/daemon_connection.hpp"

#include "base/paths.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/server_messages.hpp"

#include <fmt/format.h>

#include <fmt/ranges.h>

#include <optional>
#include <set>

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

std::string session_of_candidate(Client& client, const std::string& name) {
  const auto list = client.call(protocol::rpc::exam_list, protocol::Empty{});
  const protocol::ExamStatus* best = nullptr;
  std::set<std::string> names;
  for (const auto& st : list.sessions) {
    const std::string owner = fs::path(st.workspace).filename().string();
    names.insert(owner);
    if (owner != name) continue;
    const auto open = [](const protocol::ExamStatus& s) {
      return s.state == SessionState::running || s.state == SessionState::paused;
    };
    const bool running = open(st);
    const bool best_running = best && open(*best);
    if (!best || (running && !best_running) || (running == best_running && st.started_at_ms > best->started_at_ms))
      best = &st;
  }
  if (!best)
    throw protocol::RpcError(
        -32602, names.empty() ? fmt::format("candidate '{}' has no session: no candidate has started one yet", name)
                              : fmt::format("candidate '{}' has no session; candidates with sessions: {}", name,
                                            fmt::join(names, ", ")));
  return best->session;
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
