// torchexamd's connection set: a broadcast that finds some clients gone.
#include <doctest/doctest.h>

#include "daemon/server.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

namespace asio = boost::asio;
namespace fs = std::filesystem;
using local = asio::local::stream_protocol;

TEST_SUITE("server") {
  TEST_CASE("a broadcast closes the connections whose clients are gone and still reaches every other") {
    const fs::path dir = fs::temp_directory_path() / ("torchexam-test-server-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    fs::permissions(dir, fs::perms::owner_all);
    asio::io_context io;
    torchexam::protocol::Binder binder;
    torchexam::daemon::Server server(io, dir / "s.sock", binder);
    server.start();

    constexpr int kClients = 8;
    std::vector<local::socket> clients;
    for (int i = 0; i < kClients; ++i) {
      clients.emplace_back(io);
      clients.back().connect(local::endpoint((dir / "s.sock").string()));
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
    server.stop();
    io.poll();
    fs::remove_all(dir);
  }
}
