// daemon_connection.hpp — how a CLI command that needs torchexamd reaches
// it (report_command.cpp, regrade_command.cpp): the socket of --socket, else
// paths::socket_path(); the daemon started when none listens there.
#pragma once

#include "client/client.hpp"

#include <memory>
#include <string>

namespace torchexam::cli {

// The connected client; nullptr after printing why no daemon could be
// reached (the command then exits 3).
std::unique_ptr<Client> connect_daemon(const std::string& socket_option);

}  // namespace torchexam::cli
