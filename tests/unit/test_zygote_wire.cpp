// The warm runner's wire (sandbox/zygote_wire.hpp): what the harness and
// the zygote send each other, descriptors included.
#include <doctest/doctest.h>

#include "sandbox/zygote_wire.hpp"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace zygote = torchexam::sandbox::zygote;

TEST_SUITE("zygote_wire") {
  TEST_CASE("zygote_wire: a job request survives the round trip, empty and odd fields too") {
    zygote::JobRequest r;
    r.cwd = "/work dir";
    r.argv = {"/usr/bin/torchexam-runner", "train", "", "--spec", "a b\tc\n"};
    r.env = {"A=1", "EMPTY=", "WITH_EQ=x=y"};
    const auto back = zygote::decode_request(zygote::encode(r));
    REQUIRE(back.has_value());
    CHECK(back->cwd == r.cwd);
    CHECK(back->argv == r.argv);
    CHECK(back->env == r.env);
  }

  TEST_CASE("zygote_wire: malformed requests and replies are refused") {
    CHECK_FALSE(zygote::decode_request("").has_value());
    CHECK_FALSE(zygote::decode_request(std::string("other/1\0/\0"
                                                   "1\0x\0",
                                                   14))
                    .has_value());
    zygote::JobRequest r;
    r.cwd = "/";
    r.argv = {"x"};
    std::string packet = zygote::encode(r);
    CHECK(zygote::decode_request(packet).has_value());
    CHECK_FALSE(zygote::decode_request(packet.substr(0, packet.size() - 1)).has_value());  // not terminated
    r.env = {"NO_EQUALS"};
    CHECK_FALSE(zygote::decode_request(zygote::encode(r)).has_value());
    r.env.clear();
    r.argv.clear();  // argv[0] is required
    CHECK_FALSE(zygote::decode_request(zygote::encode(r)).has_value());
    CHECK_FALSE(zygote::decode_reply(std::string("started\0-4\0", 11)).has_value());
    CHECK_FALSE(zygote::decode_reply(std::string("exit\0x\0", 7)).has_value());
    CHECK_FALSE(zygote::decode_reply(std::string("bye\0\0", 5)).has_value());
  }

  TEST_CASE("zygote_wire: replies round trip") {
    const auto started = zygote::decode_reply(zygote::encode(zygote::Reply{zygote::Reply::Kind::started, 4242, 0, ""}));
    REQUIRE(started.has_value());
    CHECK(started->kind == zygote::Reply::Kind::started);
    CHECK(started->pid == 4242);
    const auto exit = zygote::decode_reply(zygote::encode(zygote::Reply{zygote::Reply::Kind::exit, 0, 9, ""}));
    REQUIRE(exit.has_value());
    CHECK(exit->kind == zygote::Reply::Kind::exit);
    CHECK(exit->wait_status == 9);
    const auto error =
        zygote::decode_reply(zygote::encode(zygote::Reply{zygote::Reply::Kind::error, 0, 0, "it has 3 threads"}));
    REQUIRE(error.has_value());
    CHECK(error->message == "it has 3 threads");
  }

  TEST_CASE("zygote_wire: descriptors travel with a packet; end of file is told apart") {
    int s[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, s) == 0);
    int p[2];
    REQUIRE(pipe2(p, O_CLOEXEC) == 0);
    REQUIRE(zygote::send_packet(s[0], "hello", {p[1], p[0]}));
    std::vector<int> fds;
    const auto got = zygote::recv_packet(s[1], &fds);
    REQUIRE(got.has_value());
    CHECK(*got == "hello");
    REQUIRE(fds.size() == 2);
    CHECK((fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
    // The received write end is the pipe's: what goes in comes out of p[0].
    REQUIRE(write(fds[0], "x", 1) == 1);
    char c = 0;
    CHECK(read(p[0], &c, 1) == 1);
    CHECK(c == 'x');
    CHECK_FALSE(zygote::send_packet(s[0], std::string(zygote::kMaxPacket + 1, 'x')));
    close(s[0]);
    errno = 42;
    CHECK_FALSE(zygote::recv_packet(s[1]).has_value());
    CHECK(errno == 0);
    for (int fd : {s[1], p[0], p[1], fds[0], fds[1]}) close(fd);
  }
}
