// daemon_connection.hpp — how a CLI command that needs torchexamd reaches
// it (exam_commands.cpp, report_command.cpp, regrade_command.cpp): the
// proctored server of --server, else the socket of --socket, else
// paths::socket_path(); the local daemon started when none listens there. And how
// such a command ends when a call fails.
#pragma once

#include "client/client.hpp"

#include <exception>
#include <memory>
#include <string>

namespace torchexam::cli {

// The proctored server (`torchexam --server HOST:PORT --ca-file F
// --token-file F`, docs/server.md) the daemon commands talk to instead of
// the local daemon; set once by main before any command runs. `workspace`:
// the joined workspace whose config named the server (client/
// workspace_config.hpp), or empty when the flags did.
void use_server(RemoteOptions o, std::filesystem::path workspace = {});
const RemoteOptions* remote_server();
// use_server's workspace ("" : none).
const std::filesystem::path& remote_workspace();

// The connected client: the server when one is set (logged in), else the
// local daemon, started when none listens. nullptr after printing why none
// could be reached or the login was refused (the command then exits 3).
std::unique_ptr<Client> connect_daemon(const std::string& socket_option);

// The session of candidate `name` (`--candidate NAME`, an examiner's way of
// naming a session over --server): from exam/list, the session whose
// workspace is the server's folder of that name (docs/server.md: a
// candidate's workspace ends in their name), the running one, else the last
// started. Throws protocol::RpcError naming the candidates who have sessions
// when `name` has none.
std::string session_of_candidate(Client& client, const std::string& name);

// The exit status of a call to the daemon that threw `error`, said on
// stderr: 1 when the daemon refused (protocol::RpcError, its message says
// why), 3 for anything else (the daemon went away, a reply of a wrong shape).
int daemon_failure(std::exception_ptr error);

}  // namespace torchexam::cli
