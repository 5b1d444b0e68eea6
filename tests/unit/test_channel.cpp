// protocol::Channel on a socketpair (and on two pipes, as the language
// server's stdio): frames split and joined by the stream, malformed input,
// the size cap, end of input, writes the peer does not read yet; and the
// blocking client over it: deadlines, errors, answers among notifications.
#include <doctest/doctest.h>

#include "client/client.hpp"
#include "protocol/channel.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/write.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace asio = boost::asio;
namespace json = boost::json;
using local = asio::local::stream_protocol;
using namespace torchexam::protocol;
using namespace std::chrono_literals;

namespace {

// A Channel on one end of a socketpair, recording what its handlers see;
// the test writes and reads the other end (`peer`) itself.
struct Pair {
  asio::io_context io;
  local::socket peer{io};
  std::shared_ptr<SocketChannel> channel;
  std::vector<std::string> bodies, errors;
  std::vector<boost::system::error_code> closes;

  explicit Pair(size_t max_body = kMaxBody) {
    local::socket ours(io);
    asio::local::connect_pair(ours, peer);
    channel = std::make_shared<SocketChannel>(std::move(ours), max_body);
    channel->start({[this](std::string b) { bodies.push_back(std::move(b)); },
                    [this](const std::string& e) { errors.push_back(e); },
                    [this](const boost::system::error_code& ec) { closes.push_back(ec); }});
  }
  ~Pair() { channel->close(); }
  void write(std::string_view bytes) { asio::write(peer, asio::buffer(bytes)); }
  // Runs the loop until `done` holds; false when 10 s pass first.
  template <class F>
  bool run_until(F done) {
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
      io.run_one_for(100ms);
    }
    return true;
  }
};

}  // namespace

TEST_SUITE("channel") {
  TEST_CASE("a frame split across writes arrives whole, and two frames in one write arrive in order") {
    const std::string first = encode_frame(R"({"a":1})"), second = encode_frame("{}");
    for (size_t cut : {size_t{1}, size_t{10}, first.size() - 1}) {
      CAPTURE(cut);
      Pair p;
      p.write(first.substr(0, cut));
      p.io.poll();  // the channel reads the start of the frame on its own
      CHECK(p.bodies.empty());
      p.write(first.substr(cut) + second);
      REQUIRE(p.run_until([&] { return p.bodies.size() == 2; }));
      CHECK(p.bodies == std::vector<std::string>{R"({"a":1})", "{}"});
      CHECK(p.errors.empty());
      CHECK(p.channel->open());
    }
  }

  TEST_CASE("a malformed header is reported, and the channel goes on with the next frame") {
    Pair p;
    p.write("Content-Length: abc\r\n\r\n" + encode_frame("[1]"));
    REQUIRE(p.run_until([&] { return p.bodies.size() == 1; }));
    CHECK(p.errors == std::vector<std::string>{"Content-Length is not a number: 'abc'"});
    CHECK(p.bodies == std::vector<std::string>{"[1]"});
    CHECK(p.channel->open());
    CHECK(p.closes.empty());
  }

  TEST_CASE("a frame over the cap is one error, dropped whole, and the next frame still arrives") {
    Pair p(16);
    p.write(encode_frame(std::string(100, 'x')) + encode_frame("{}"));
    REQUIRE(p.run_until([&] { return p.bodies.size() == 1; }));
    CHECK(p.errors == std::vector<std::string>{"message of 100 bytes is over the limit of 16"});
    CHECK(p.bodies == std::vector<std::string>{"{}"});
    CHECK(p.channel->open());
  }

  TEST_CASE("end of input in the middle of a frame closes the channel once, and delivers nothing of it") {
    Pair p;
    p.write(encode_frame("{}") + "Content-Length: 40\r\n\r\n{\"half\":");
    p.peer.close();
    REQUIRE(p.run_until([&] { return !p.closes.empty(); }));
    CHECK(p.bodies == std::vector<std::string>{"{}"});
    REQUIRE(p.closes.size() == 1);
    CHECK(p.closes[0] == asio::error::eof);
    CHECK_FALSE(p.channel->open());
    p.channel->send("{}");  // dropped, and no second on_close
    p.channel->close();
    p.io.poll();
    CHECK(p.closes.size() == 1);
  }

  TEST_CASE("replies to the frames of one read go out together and in order, and a full socket loses nothing") {
    asio::io_context io;
    local::socket ours(io), peer(io);
    asio::local::connect_pair(ours, peer);
    // Every body is answered with three frames, more in all than the socket
    // holds: the channel waits for room and drops nothing.
    const std::string big(64 * 1024, 'y');
    auto echo = std::make_shared<SocketChannel>(std::move(ours));
    SocketChannel* raw = echo.get();
    std::optional<size_t> written_before_the_read_ended;  // what reached the peer, seen from the first body
    echo->start({[&, raw](std::string body) {
                   for (int i = 0; i < 3; ++i) raw->send(body + ":" + std::to_string(i) + ":" + big);
                   if (!written_before_the_read_ended) written_before_the_read_ended = peer.available();
                 },
                 nullptr, nullptr});
    std::string requests;
    for (int i = 0; i < 40; ++i) requests += encode_frame(std::to_string(i));
    asio::write(peer, asio::buffer(requests));
    // Read the answers back at the peer's own pace.
    peer.non_blocking(true);
    FrameReader reader(1 << 20);
    std::vector<std::string> got;
    const auto until = std::chrono::steady_clock::now() + 20s;
    while (got.size() < 120 && std::chrono::steady_clock::now() < until) {
      io.poll();
      char buf[65536];
      boost::system::error_code ec;
      const size_t n = peer.read_some(asio::buffer(buf), ec);
      if (ec == asio::error::would_block) {
        io.run_one_for(10ms);
        continue;
      }
      REQUIRE_FALSE(ec);
      reader.feed(std::string_view(buf, n));
      while (auto f = reader.next()) got.push_back(std::get<Frame>(*f).body);
    }
    CHECK(written_before_the_read_ended == size_t{0});
    REQUIRE(got.size() == 120);
    for (size_t i = 0; i < got.size(); ++i) {
      CAPTURE(i);
      CHECK(got[i] == std::to_string(i / 3) + ":" + std::to_string(i % 3) + ":" + big);
    }
    CHECK(echo->open());
    echo->close();
  }

  TEST_CASE("a send to a peer that has gone closes the channel at once") {
    Pair p;
    p.peer.close();
    p.channel->send("{}");
    CHECK_FALSE(p.channel->open());
    REQUIRE(p.closes.size() == 1);
    CHECK(p.closes[0] == asio::error::broken_pipe);
  }

  TEST_CASE("a channel over two descriptors reads one and writes the other (the language server's stdio)") {
    asio::io_context io;
    int in[2], out[2];
    REQUIRE(::pipe(in) == 0);
    REQUIRE(::pipe(out) == 0);
    auto ch = std::make_shared<StdioChannel>(
        StdioStream{asio::posix::stream_descriptor(io, in[0]), asio::posix::stream_descriptor(io, out[1])});
    StdioChannel* raw = ch.get();
    ch->start({[raw](std::string body) { raw->send("re:" + body); }, nullptr, nullptr});
    const std::string request = encode_frame("{}");
    REQUIRE(::write(in[1], request.data(), request.size()) == static_cast<ssize_t>(request.size()));
    ::fcntl(out[0], F_SETFL, O_NONBLOCK);
    FrameReader reader;
    std::optional<std::variant<Frame, FramingError>> answer;
    const auto until = std::chrono::steady_clock::now() + 10s;
    while (!answer && std::chrono::steady_clock::now() < until) {
      io.run_one_for(10ms);
      char buf[256];
      const ssize_t n = ::read(out[0], buf, sizeof buf);
      if (n > 0) reader.feed(std::string_view(buf, static_cast<size_t>(n)));
      answer = reader.next();
    }
    REQUIRE(answer);
    CHECK(std::get<Frame>(*answer).body == "re:{}");
    ch->close();
    ::close(in[1]);
    ::close(out[0]);
  }

  TEST_CASE("the blocking client: a wait gives up at its deadline, then takes what arrives later") {
    auto io = std::make_unique<asio::io_context>();
    local::socket ours(*io), daemon(*io);
    asio::local::connect_pair(ours, daemon);
    torchexam::Client client(std::move(io), std::move(ours));
    CHECK_FALSE(client.next_notification(20ms));
    CHECK_FALSE(client.next_notification(0ms));  // only what has arrived
    const std::string note = R"({"jsonrpc":"2.0","method":"exam/timer","params":{"session":"s","remaining_s":1}})";
    asio::write(daemon, asio::buffer(encode_frame(note)));
    auto got = client.next_notification(0ms);  // already in the socket
    REQUIRE(got);
    CHECK(got->method == "exam/timer");
    asio::write(daemon, asio::buffer(encode_frame(note)));
    CHECK(client.next_notification(10s));
  }

  TEST_CASE("the blocking client: a malformed frame fails the wait once, the end of input every wait after") {
    auto io = std::make_unique<asio::io_context>();
    local::socket ours(*io), daemon(*io);
    asio::local::connect_pair(ours, daemon);
    torchexam::Client client(std::move(io), std::move(ours));
    asio::write(daemon, asio::buffer("Content-Length: x\r\n\r\n" +
                                     encode_frame(R"({"jsonrpc":"2.0","method":"exam/timer","params":{}})") +
                                     "Content-Le"));
    daemon.close();
    CHECK_THROWS_WITH(client.next_notification(10s),
                      "torchexamd sent a malformed frame: Content-Length is not a number: 'x'");
    CHECK(client.next_notification(10s));  // read in the same go: still delivered
    CHECK_THROWS_WITH(client.next_notification(10s), "torchexamd closed the connection (End of file)");
    CHECK_THROWS_WITH(client.call("daemon/info", json::object()), "torchexamd closed the connection (End of file)");
  }

  TEST_CASE("the blocking client: a call skips notifications and other answers, and an error answer throws") {
    auto io = std::make_unique<asio::io_context>();
    local::socket ours(*io), daemon(*io);
    asio::local::connect_pair(ours, daemon);
    torchexam::Client client(std::move(io), std::move(ours));
    asio::write(daemon, asio::buffer(encode_frame(R"({"jsonrpc":"2.0","method":"exam/closed","params":{}})") +
                                     encode_frame(R"({"jsonrpc":"2.0","id":99,"result":"not ours"})") +
                                     encode_frame(R"({"jsonrpc":"2.0","id":1,"result":{"pid":7}})")));
    CHECK(client.call("daemon/info", json::object()) == json::value{{"pid", 7}});
    asio::write(daemon, asio::buffer(encode_frame(R"({"jsonrpc":"2.0","id":2,"error":{"code":-32001,"message":"no"}})")));
    CHECK_THROWS_WITH_AS(client.call("submission/get", json::object()), "no", RpcError);
    auto note = client.next_notification(0ms);
    REQUIRE(note);
    CHECK(note->method == "exam/closed");
    // Both requests reached the daemon, framed.
    FrameReader reader;
    std::vector<std::string> sent;
    while (sent.size() < 2) {
      std::string buf(4096, '\0');
      buf.resize(daemon.read_some(asio::buffer(buf)));
      reader.feed(buf);
      while (auto f = reader.next()) sent.push_back(std::get<Frame>(*f).body);
    }
    CHECK(json::parse(sent[0]).at("method") == "daemon/info");
    CHECK(json::parse(sent[1]).at("id") == 2);
  }
}
