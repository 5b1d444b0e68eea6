#include "cli/join_command.hpp"

#include "base/hash.hpp"
#include "base/paths.hpp"
#include "client/client.hpp"
#include "client/workspace_config.hpp"
#include "exam/provision.hpp"
#include "grading/compiler.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "sandbox/text.hpp"

#include <fmt/format.h>
#include <boost/json.hpp>

#include <iostream>

namespace torchexam::cli {
namespace fs = std::filesystem;
namespace json = boost::json;
namespace rpc = protocol::rpc;

namespace {

// The flags this machine compiles the session's code with, for
// compile_commands.json: the server's standard and flags, this machine's
// LibTorch and SDK folders. A pinned compiler this machine lacks gives way
// to the one torchexam was built with (said in `notes`): completion needs
// the headers, not that compiler.
std::pair<std::string, std::vector<std::string>> local_compile(const protocol::WorkspaceLayout& l,
                                                               std::vector<std::string>& notes) {
  CompilerOptions o;
  o.cache_dir = paths::cache_dir();
  o.standard = l.compiler_std;
  o.flags = l.compiler_flags;
  o.compiler_id = l.compiler_id;
  if (!l.compiler_id.empty() && candidate_compiler(l.compiler_id).exe.empty()) {
    notes.push_back(
        fmt::format("the exam compiles with {}, which this machine lacks; compile_commands.json names "
                    "{} instead (completion works the same)",
                    l.compiler_id, candidate_compiler("").exe));
    o.compiler_id.clear();
  }
  const Compiler c(o);
  return {c.executable(), c.compile_flags()};
}

struct Laid {
  std::vector<fs::path> written, kept;
};

// The layout's files in `root` (see join_command.hpp). Throws
// std::runtime_error naming the file that could not be written.
Laid lay_out(const fs::path& root, const protocol::WorkspaceLayout& l, std::vector<std::string>& notes) {
  Laid out;
  const auto [compiler, flags] = local_compile(l, notes);
  auto put = [&](const fs::path& file, const std::string& text) {
    write_file_atomically(file, text);
    out.written.push_back(file);
  };
  for (const auto& task : l.tasks) {
    if (task.id.empty() || task.id.find('/') != std::string::npos || task.id == "." || task.id == "..")
      throw std::runtime_error("the server named a task '" + task.id +
                               "', which is not a folder name; nothing of it was written");
    const fs::path dir = root / task.id;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) throw std::runtime_error("cannot create " + dir.string() + ": " + ec.message());
    for (const auto& f : task.files) {
      if (f.name != "README.md" && f.name != "solution.cpp") continue;  // the only files a layout may bring
      const fs::path file = dir / f.name;
      if (f.name == "solution.cpp" && fs::exists(file, ec)) {
        out.kept.push_back(file);
        continue;
      }
      put(file, f.text);
    }
    put(dir / "CMakeLists.txt", workspace_cmake_lists(task.id, l.compiler_std));
    put(dir / "compile_commands.json", workspace_compile_commands(dir, compiler, flags));
  }
  return out;
}

}  // namespace

JoinCommand::JoinCommand(CLI::App& app) {
  cmd_ = app.add_subcommand("join",
                            "join a proctored exam server: log in, start or resume your session, lay your workspace "
                            "out here, and remember the server for every later command in it (docs/server.md)");
  cmd_->add_option("SERVER", server_, "the server's HOST:PORT, e.g. exam.example.org:7443")->required();
  cmd_->add_option("DIR", dir_, "the folder to lay the workspace out in (default: this one)");
  cmd_->add_option("--ca-file", ca_file_, "the CA certificate (PEM) the examiner gave you")->required();
  cmd_->add_option("--token-file", token_file_, "the file holding the token the examiner gave you (chmod 600)")
      ->required();
  cmd_->add_option("--environment", environment_,
                   "the installed exam environment to start, when your token does not name one");
  cmd_->add_flag("--json", json_, "print {session, workspace, server, written, kept} as JSON");
  cmd_->add_flag("--rejoin", rejoin_,
                 "join a folder that is joined to another server or with another token (its files are kept)");
}

std::optional<int> JoinCommand::run() {
  if (!cmd_->parsed()) return std::nullopt;
  RemoteOptions remote;
  if (std::string problem = parse_server_address(server_, remote); !problem.empty()) {
    fmt::print(stderr, "torchexam join: {}\n", problem);
    return 2;
  }
  std::error_code ec;
  const fs::path root = fs::absolute(dir_.empty() ? fs::path(".") : fs::path(dir_), ec).lexically_normal();
  const fs::path ca = fs::absolute(ca_file_, ec).lexically_normal();
  const fs::path token = fs::absolute(token_file_, ec).lexically_normal();
  for (const fs::path* p : {&root, &ca, &token})
    if (!is_valid_utf8(p->string())) {  // the workspace config is JSON, which carries UTF-8 only
      fmt::print(stderr, "torchexam join: the path {} is not UTF-8; use a folder and files with UTF-8 names\n",
                 p->string());
      return 2;
    }
  if (!fs::is_regular_file(ca, ec)) {
    fmt::print(stderr,
               "torchexam join: the CA file {} (--ca-file) does not exist; give the CA certificate the "
               "examiner gave you (ca.crt)\n",
               ca.string());
    return 2;
  }
  if (fs::exists(root, ec) && !fs::is_directory(root, ec)) {
    fmt::print(stderr, "torchexam join: {} is not a folder; give a folder to lay the workspace out in\n",
               root.string());
    return 2;
  }
  try {
    remote.token = read_token_file(token);
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam join: {}\n", e.what());
    return 2;
  }
  remote.ca_file = ca.string();
  const std::string where = fmt::format("{}:{}", remote.host, remote.port);
  // A folder of another exam: its solutions would go to this server, its config be lost.
  try {
    if (const auto before = find_workspace_config(root); before && !rejoin_ &&
        (before->server != where || before->token_file != token)) {
      const std::string folder = before->root == root
                                     ? root.string()
                                     : fmt::format("{} (inside {})", root.string(), before->root.string());
      fmt::print(stderr,
                 "torchexam join: {} is joined to {} with the token file {}; join into another folder, or give "
                 "--rejoin to join it to {} with {} (its files are kept)\n",
                 folder, before->server, before->token_file.string(), where, token.string());
      return 2;
    }
  } catch (const std::exception& e) {  // an unreadable config: join writes a good one
    fmt::print(stderr, "torchexam join: note: {}; writing it again\n", e.what());
  }

  std::unique_ptr<Client> client;
  try {
    client = Client::connect_tls(remote);
  } catch (const protocol::RpcError& e) {
    fmt::print(stderr, "torchexam join: the server {} refused the login: {}\n", where, e.what());
    return 3;
  } catch (const std::exception& e) {  // cannot connect, the certificate, the CA file
    fmt::print(stderr, "torchexam join: {}\n", e.what());
    return 3;
  }

  protocol::WorkspaceLayout layout;
  bool started = false;
  try {
    const auto me = client->call(rpc::auth_whoami, protocol::Empty{});
    if (me.role != "candidate") {
      fmt::print(stderr,
                 "torchexam join: {} is an examiner's token; join is for candidates (an examiner runs "
                 "torchexam --server {} --ca-file CA --token-file TOKEN sessions)\n",
                 token.string(), where);
      return 2;
    }
    if (!me.session) {
      if (me.environment.empty() && environment_.empty()) {
        fmt::print(stderr,
                   "torchexam join: your token names no exam environment; give the one to start with "
                   "--environment NAME (the examiner tells you which)\n");
        return 2;
      }
      client->call(rpc::exam_start, protocol::StartParams{environment_, "", "exam", std::nullopt, false});
      started = true;
    }
    layout = client->call(rpc::workspace_layout, protocol::SessionParams{});
  } catch (const protocol::RpcError& e) {
    fmt::print(stderr, "torchexam join: the server said: {}\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam join: {}\n", e.what());
    return 3;
  }

  std::vector<std::string> notes;
  Laid laid;
  try {
    laid = lay_out(root, layout, notes);
    write_workspace_config({where, ca, token, root});
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam join: {}\n", e.what());
    return 4;
  }
  if (json_) {
    json::array written, kept;
    for (const auto& p : laid.written) written.push_back(json::value(p.string()));
    for (const auto& p : laid.kept) kept.push_back(json::value(p.string()));
    std::cout << json::serialize(json::object{{"session", layout.session},
                                              {"started", started},
                                              {"workspace", root.string()},
                                              {"server", where},
                                              {"written", std::move(written)},
                                              {"kept", std::move(kept)}})
              << std::endl;
    return 0;
  }
  fmt::print("{} session {} of {} on {}; workspace {}\n", started ? "started" : "joined", layout.session,
             layout.environment, where, root.string());
  for (const auto& t : layout.tasks) fmt::print("  {:<22} {}\n", t.id, t.title);
  for (const auto& p : laid.kept) fmt::print("kept your {} (not overwritten)\n", p.lexically_relative(root).string());
  for (const auto& n : notes) fmt::print("note: {}\n", n);
  fmt::print(
      "every torchexam command in this folder now talks to {} (its config: {}); e.g.\n  torchexam submit TASK "
      "--wait\n",
      where, workspace_config_file(root).lexically_relative(root).string());
  return 0;
}

}  // namespace torchexam::cli
