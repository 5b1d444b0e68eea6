// Helpers of the proctored server's tests (tests/server): a torchexamd
// serving TLS with the test CA (the fixture server.ca), its token commands,
// TLS clients logged in, raw TCP connections, and candidates who run the
// torchexam CLI. Waits are conditions with deadlines.
#pragma once

#include "../e2e/daemon_util.hpp"
#include "client/client.hpp"
#include "protocol/jsonrpc.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <boost/json.hpp>
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <filesystem>
#include <memory>
#include <optional>
#include <regex>
#include <string>
#include <utility>
#include <vector>

namespace torchexam::test {

inline const fs::path kSource = TORCHEXAM_SOURCE_DIR;
inline const fs::path kTinyEnv = kSource / "tests/environments/tiny";
inline const fs::path kCa = TORCHEXAM_TEST_CA_DIR;

inline void need_ca() {
  if (!fs::exists(kCa / "torchexam-ca/server.crt") || !fs::exists(kCa / "other-ca.crt"))
    skip_test("no test CA in " + kCa.string() + " (the server.ca fixture makes it with openssl)");
}

// torchexamd serving TLS on a free loopback port, practice mode (the floor
// is tested on its own), with a short idle timeout; `more` adds options, and
// replaces those defaults when it names --idle-timeout or --server-mode.
struct Server {
  Daemon d;
  uint16_t port = 0;
  int runs = 0;
  explicit Server(const std::string& name, std::vector<std::string> more = {}) : d("tls-" + name) {
    need_ca();
    d.extra_args = {"--listen",   "127.0.0.1:0",
                    "--tls-cert", (kCa / "torchexam-ca/server.crt").string(),
                    "--tls-key",  (kCa / "torchexam-ca/server.key").string()};
    for (const auto& [flag, value] : {std::pair<std::string, std::string>{"--idle-timeout", "0.5"},
                                      std::pair<std::string, std::string>{"--server-mode", "practice"}})
      if (std::find(more.begin(), more.end(), flag) == more.end())
        d.extra_args.insert(d.extra_args.end(), {flag, value});
    d.extra_args.insert(d.extra_args.end(), more.begin(), more.end());
    REQUIRE_FALSE(d.start());
    const std::regex serving(R"(serving TLS on 127\.0\.0\.1:(\d+))");
    std::smatch m;
    const std::string log = slurp(d.log);
    REQUIRE_MESSAGE(std::regex_search(log, m, serving), log);
    port = static_cast<uint16_t>(std::stoi(m[1]));
  }
  // Runs torchexamd's token command on this server's state; its output.
  std::string admin(const std::vector<std::string>& args) {
    std::vector<std::string> all = {"--state-dir", d.state.string()};
    all.insert(all.end(), args.begin(), args.end());
    const fs::path out = d.root / ("admin-" + std::to_string(++runs) + ".out");  // a log is appended to
    ChildProcess p(kDaemon, all, out);
    REQUIRE(p.wait() == 0);
    return slurp(out);
  }
  std::string issue(const std::string& flag, const std::string& name, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {flag, name};
    args.insert(args.end(), more.begin(), more.end());
    const std::string out = admin(args);
    std::smatch m;
    REQUIRE_MESSAGE(std::regex_search(out, m, std::regex(R"((txm1\.[0-9a-f]{16}\.[0-9a-f]{64}))")), out);
    return m[1];
  }
  RemoteOptions remote(const std::string& token, const fs::path& ca = kCa / "torchexam-ca/ca.crt") const {
    RemoteOptions o;
    o.host = "127.0.0.1";
    o.port = port;
    o.ca_file = ca.string();
    o.token = token;
    return o;
  }
  std::unique_ptr<Client> login(const std::string& token) { return Client::connect_tls(remote(token)); }
};

// The error a call is refused with (FAIL when it is not refused).
inline protocol::RpcError refusal(Client& c, const std::string& method, json::object params) {
  try {
    c.call(method, std::move(params));
  } catch (const protocol::RpcError& e) {
    return e;
  }
  FAIL("the server accepted " << method);
  return protocol::RpcError(0, "");
}

// A raw TCP connection to 127.0.0.1:port.
inline int tcp_connect(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  return fd;
}

// Everything the peer sends until it closes, or nullopt if it has not closed by `deadline`.
inline std::optional<std::string> read_until_closed(int fd, std::chrono::seconds deadline) {
  const auto until = std::chrono::steady_clock::now() + deadline;
  std::string got;
  while (std::chrono::steady_clock::now() < until) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char buf[4096];
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) return got;
    got.append(buf, static_cast<size_t>(n));
  }
  return std::nullopt;
}

// The torchexam CLI run in `cwd`: its exit status and its stdout and stderr.
inline std::pair<int, std::string> run_cli(const fs::path& cwd, const std::vector<std::string>& args, const fs::path& out) {
  const fs::path was = fs::current_path();
  fs::current_path(cwd);
  ChildProcess p(TORCHEXAM_CLI, args, out);
  fs::current_path(was);
  const int rc = p.wait();
  return {rc, slurp(out)};
}

// A candidate of `server` with a token file in a home folder of their own
// under the server's test root, who runs the torchexam CLI (`join`, or
// any command with the flags in `flags()`).
struct Candidate {
  Server& s;
  fs::path home, token;
  int runs = 0;
  Candidate(Server& server, const std::string& name, const fs::path& env) : s(server) {
    home = s.d.root / name;
    fs::create_directories(home);
    token = home / (name + ".token");
    std::ofstream(token) << s.issue("--add-candidate", name, {"--environment", env.string()}) << "\n";
    fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(s.port); }
  // --server, --ca-file and --token-file for this server, then `args`.
  std::vector<std::string> flags(std::vector<std::string> args) const {
    std::vector<std::string> all = {"--server", address(), "--ca-file", (kCa / "torchexam-ca/ca.crt").string(),
                                    "--token-file", token.string()};
    all.insert(all.end(), args.begin(), args.end());
    return all;
  }
  std::pair<int, std::string> cli(const fs::path& cwd, std::vector<std::string> args) {
    return run_cli(cwd, args, home / ("cli-" + std::to_string(++runs) + ".out"));
  }
  std::pair<int, std::string> join(const fs::path& dir, std::vector<std::string> more = {}) {
    std::vector<std::string> args = {
        "join",         address(),      "--ca-file", (kCa / "torchexam-ca/ca.crt").string(),
        "--token-file", token.string(), dir.string()};
    args.insert(args.end(), more.begin(), more.end());
    return cli(home, args);
  }
};

}  // namespace torchexam::test
