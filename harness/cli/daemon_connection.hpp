// daemon_connection.hpp — how a CLI command that needs torchexamd reaches
// it (report_command.cpp, regrade_command.cpp): the socket of --socket, else
// paths::socket_path(); the daemon started when none listens there. And how
// such a command ends when a call fails.
#pragma once

#include "client/client.hpp"

#include <exception>
#include <memory>
#include <string>

namespace torchexam::cli {

// The connected client; nullptr after printing why no daemon could be
// reached (the command then exits 3).
std::unique_ptr<Client> connect_daemon(const std::string& socket_option);

// The exit status of a call to the daemon that threw `error`, said on
// stderr: 1 when the daemon refused (protocol::RpcError, its message says
// why), 3 for anything else (the daemon went away, a reply of a wrong shape).
int daemon_failure(std::exception_ptr error);

}  // namespace torchexam::cli
