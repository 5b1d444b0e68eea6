// torchexamd's connection set: a broadcast that finds some clients gone.
#include <doctest/doctest.h>

#include "daemon/server.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <chrono>
#include <filesystem>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;

namespace {
std::set<int> open_fds() {
  std::set<int> fds;
  for (const auto& e : fs::directory_iterator("/proc/self/fd")) fds.insert(std::stoi(e.path().filename().string()));
  return fds;
}
// A server listening in a private folder of its own, stopped and removed at the end.
struct Listening {
  fs::path dir;
  asio::io_context io;
  torchexam::protocol::Binder binder;
  std::unique_ptr<torchexam::daemon::Server> server;
  explicit Listening(const std::string& name)
      : dir(fs::temp_directory_path() / ("torchexam-test-server-" + name + "-" + std::to_string(getpid()))) {
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all);
    server = std::make_unique<torchexam::daemon::Server>(io, dir / "s.sock", binder);
    server->start();
  }
  ~Listening() {
    server->stop();
    io.poll();
    fs::remove_all(dir);
  }
  local::endpoint endpoint() const { return local::endpoint((dir / "s.sock").string()); }
};
}  // namespace

TEST_SUITE("server") {
  TEST_CASE("a broadcast closes the connections whose clients are gone and still reaches every other") {
    Listening l("broadcast");
    auto& io = l.io;
    auto& server = *l.server;

    constexpr int kClients = 8;
    std::vector<local::socket> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back(io);
      clients.back().connect(l.endpoint());
    }
    while (server.connections() < kClients) io.run_one();

    // Every other client goes away before the daemon has read that it did:
    // the broadcast's own send finds out, and closes those connections
    // while it walks the set of them.
    for (int i = 1; i < kClients; i += 2) clients[i].close();
    const std::string body = R"({"jsonrpc":"2.0","method":"exam/timer","params":{"remaining_s":60}})";
    server.broadcast(body);
    CHECK(server.connections() == kClients / 2);

    for (int i = 0; i < kClients; i += 2) {
      CAPTURE(i);
      std::string got(4096, '\0');
      boost::system::error_code ec;
      const size_t n = clients[i].read_some(asio::buffer(got), ec);  // written by broadcast already
      REQUIRE_FALSE(ec);
      got.resize(n);
      CHECK(got.find(body) != std::string::npos);
    }
  }

  TEST_CASE("accepted sockets are close-on-exec, and a server out of descriptors takes the client later") {
    Listening l("fd");
    auto& io = l.io;
    auto& server = *l.server;

    const std::set<int> before = open_fds();
    local::socket a(io);
    a.connect(l.endpoint());
    while (server.connections() < 1) io.run_one();
    int accepted = -1;
    for (int fd : open_fds())
      if (!before.count(fd) && fd != a.native_handle()) accepted = fd;
    REQUIRE(accepted >= 0);
    CHECK((::fcntl(accepted, F_GETFD) & FD_CLOEXEC) != 0);  // a runner forked now would not inherit it

    // The second client waits in the backlog while the process has no
    // descriptor left: accept fails with EMFILE, and the server must go on
    // trying rather than stop accepting for good.
    local::socket b(io);
    b.connect(l.endpoint());
    rlimit old{};
    REQUIRE(::getrlimit(RLIMIT_NOFILE, &old) == 0);
    rlimit low = old;
    low.rlim_cur = static_cast<rlim_t>(*open_fds().rbegin()) + 1;
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &low) == 0);
    std::vector<int> fillers;  // the holes below the limit
    for (int fd; (fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0;) fillers.push_back(fd);
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(300);
    while (std::chrono::steady_clock::now() < until) io.run_one_for(std::chrono::milliseconds(20));
    CHECK(server.connections() == 1);
    for (int fd : fillers) ::close(fd);
    REQUIRE(::setrlimit(RLIMIT_NOFILE, &old) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (server.connections() < 2 && std::chrono::steady_clock::now() < deadline)
      io.run_one_for(std::chrono::milliseconds(20));
    CHECK(server.connections() == 2);
  }
}
