// The proctored server's robustness, end to end on loopback (a real
// torchexamd with --listen and the test CA, as test_server.cpp): the
// keep-alive timeout against quiet and trickling clients while a waiting
// client survives, the per-candidate request rate, TLS close_notify both
// ways, and kill -9 of the server mid-training with the candidate's
// `submit --wait` reconnecting and getting the score. Timeouts are short
// flags; nothing asserts how long anything took.
#include <doctest/doctest.h>

#include "protocol/framing.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "protocol/tls_stream.hpp"
#include "server_util.hpp"
#include "store/audit_log.hpp"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/write.hpp>

#include <regex>

namespace fs = std::filesystem;
namespace json = boost::json;
namespace asio = boost::asio;
using namespace torchexam;
using namespace torchexam::test;

namespace {

// A TLS connection driven by hand, synchronously: logged in with `token`,
// then it writes what the test gives it, as slowly as the test likes.
struct RawTls {
  asio::io_context io;
  asio::ssl::context ctx;
  protocol::TlsSocket s;
  RawTls(uint16_t port, const std::string& token)
      : ctx(protocol::make_client_context((kCa / "torchexam-ca/ca.crt").string())), s(io, ctx) {
    s.lowest_layer().connect({asio::ip::make_address("127.0.0.1"), port});
    protocol::tls_verify_host(s, "127.0.0.1");
    s.handshake(asio::ssl::stream_base::client);
    write(protocol::encode_frame(protocol::make_request(1, "auth/login", json::object{{"token", token}})));
    protocol::FrameReader reader;
    decltype(protocol::FrameReader().next()) got;
    while (!(got = reader.next())) {
      char buf[4096];
      reader.feed(std::string_view(buf, s.read_some(asio::buffer(buf))));
    }
    REQUIRE(std::holds_alternative<protocol::Frame>(*got));
    const std::string answer = std::get<protocol::Frame>(*got).body;
    REQUIRE_MESSAGE(answer.find("\"result\"") != std::string::npos, answer);
    s.lowest_layer().non_blocking(true);
  }
  // False once the server has closed the connection.
  bool write(std::string_view bytes) {
    boost::system::error_code ec;
    asio::write(s, asio::buffer(bytes.data(), bytes.size()), ec);
    return !ec;
  }
  // How the connection ended (asio::error::eof after the server's
  // close_notify), or nullopt if it is still open after `wait`.
  std::optional<boost::system::error_code> ended_within(std::chrono::milliseconds wait) {
    const auto until = std::chrono::steady_clock::now() + wait;
    for (;;) {
      char buf[4096];
      boost::system::error_code ec;
      s.read_some(asio::buffer(buf), ec);
      if (ec && ec != asio::error::would_block && ec != asio::error::try_again) return ec;
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{s.lowest_layer().native_handle(), POLLIN, 0};
      ::poll(&p, 1, static_cast<int>(left.count()));
    }
  }
};

bool audited(const fs::path& state, const std::string& event, const std::string& needle) {
  for (const auto& r : store::AuditLog(state).records())
    if (r.event == event && (r.who + " " + r.method + " " + r.detail).find(needle) != std::string::npos) return true;
  return false;
}

}  // namespace

TEST_SUITE("server") {
  TEST_CASE("server: a quiet or trickling logged-in client is dropped; a client waiting with keep-alives is not") {
    Server s("keepalive", {"--keepalive-timeout", "2"});
    const std::string ana = s.issue("--add-candidate", "ana");
    const std::string ben = s.issue("--add-candidate", "ben");

    // Ana's request, one byte at a time with a pause between: no whole
    // request arrives, and the server drops her with a close_notify.
    RawTls trickle(s.port, ana);
    const std::string frame = protocol::encode_frame(protocol::make_request(2, "auth/whoami", json::object()));
    std::optional<boost::system::error_code> ended;
    size_t sent = 0;
    while (sent < frame.size() && !ended) {
      if (!trickle.write(frame.substr(sent++, 1))) break;
      ended = trickle.ended_within(std::chrono::milliseconds(300));
    }
    if (!ended) ended = trickle.ended_within(std::chrono::seconds(10));
    REQUIRE(ended);
    CHECK(sent < frame.size());
    CHECK_MESSAGE(*ended == asio::error::eof, ended->message());  // a close_notify, not a truncated stream
    CHECK(wait_for(
        [&] {
          return slurp(s.d.log).find("(candidate ana): no whole request within 2 s (--keepalive-timeout)") !=
                 std::string::npos;
        },
        std::chrono::seconds(5)));
    CHECK(audited(s.d.state, "quiet", "candidate ana"));

    // A client that logs in and then says nothing at all goes the same way.
    RawTls quiet(s.port, ana);
    const auto quiet_end = quiet.ended_within(std::chrono::seconds(20));
    REQUIRE(quiet_end);
    CHECK(*quiet_end == asio::error::eof);

    // Ben waits (as submit --wait does while a grading trains: nothing to
    // send), two and a half times the timeout; his client pings, and stays.
    auto waiting = s.login(ben);  // the client that waits
    CHECK(waiting->call(protocol::rpc::auth_whoami, protocol::Empty{}).keepalive_s == 2.0);
    CHECK_FALSE(waiting->next_notification(std::chrono::milliseconds(5000)));
    CHECK(waiting->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ben");

    // Ben never was dropped.
    CHECK(slurp(s.d.log).find("(candidate ben): no whole request") == std::string::npos);
    // His client's orderly close reaches the server as a close_notify.
    waiting.reset();
    CHECK(wait_for([&] { return slurp(s.d.log).find("(candidate ben) closed the connection") != std::string::npos; },
                   std::chrono::seconds(5)));
  }

  TEST_CASE("server: a client that sends requests and does not read their answers is dropped at the queue cap") {
    Server s("slow-reader", {"--max-queued-mib", "1"});
    const std::string ana = s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()});
    auto a = s.login(ana);
    a->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    // A big source, so that each answer that carries it is big.
    std::string source;
    while (source.size() < 400 * 1024) source += "// padding to make the stored source large enough\n";
    const auto up = a->call(protocol::rpc::task_upload, protocol::UploadParams{"", "", "fashion_mnist", "solution.cpp", source});
    // 100 asks for it, about 40 MB of answers, never read: more than the
    // kernel's socket buffers hold, so the server's queue passes 1 MiB.
    RawTls greedy(s.port, ana);
    std::string asks;
    for (int i = 0; i < 100; ++i)
      asks += protocol::encode_frame(protocol::make_request(
          10 + i, "submission/get", json::object{{"submission", up.submission}, {"include_source", true}}));
    greedy.write(asks);
    CHECK(wait_for(
        [&] {
          return slurp(s.d.log).find("dropped 127.0.0.1") != std::string::npos &&
                 slurp(s.d.log).find("(candidate ana): it does not read what the server sends: more than 1 MiB "
                                     "waited (--max-queued-mib)") != std::string::npos;
        },
        std::chrono::seconds(20)));
    CHECK(audited(s.d.state, "slow_reader", "candidate ana"));
    CHECK(greedy.ended_within(std::chrono::seconds(10)));
    // Her other connection, which reads, is served.
    CHECK(a->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ana");
  }

  TEST_CASE("server: a flood of requests is refused with when to retry, audited, and others are still served") {
    Server s("flood", {"--max-requests-per-second", "0.2", "--request-burst", "5"});
    auto ana = s.login(s.issue("--add-candidate", "ana"));
    auto ben = s.login(s.issue("--add-candidate", "ben"));
    int served = 0, refused = 0;
    std::string message;
    for (int i = 0; i < 20; ++i) {
      try {
        ana->call(protocol::rpc::auth_whoami, protocol::Empty{});
        ++served;
      } catch (const protocol::RpcError& e) {
        CHECK(e.code == protocol::error_code::rate_limited);
        message = e.what();
        ++refused;
      }
    }
    CHECK(served >= 5);  // the burst
    CHECK(refused > 0);
    CAPTURE(message);
    CHECK(std::regex_search(message, std::regex(R"(^too many requests: this server takes 0\.2 a second from each )"
                                                R"(candidate \(in bursts of up to 5\); try again in \d+ s)")));
    CHECK(ben->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ben");
    CHECK(ben->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ben");
    CHECK(audited(s.d.state, "rate_limited", "candidate ana"));
    CHECK(slurp(s.d.log).find("(candidate ana): refused: too many requests") != std::string::npos);
    // Once the bucket has refilled, ana is served again.
    CHECK(wait_for(
        [&] {
          try {
            return ana->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ana";
          } catch (const protocol::RpcError&) {
            return false;
          }
        },
        std::chrono::seconds(30)));
  }

  TEST_CASE("server: the rate-limit error carries retry_after_ms") {
    Server s("retry", {"--max-requests-per-second", "0.1", "--request-burst", "1"});
    RawTls raw(s.port, s.issue("--add-candidate", "ana"));
    raw.s.lowest_layer().non_blocking(false);
    const std::string two = protocol::encode_frame(protocol::make_request(2, "$/ping", json::object())) +
                            protocol::encode_frame(protocol::make_request(3, "$/ping", json::object()));
    REQUIRE(raw.write(two));
    protocol::FrameReader reader;
    std::vector<json::value> answers;
    while (answers.size() < 2) {
      char buf[4096];
      reader.feed(std::string_view(buf, raw.s.read_some(asio::buffer(buf))));
      while (auto f = reader.next())
        if (auto* frame = std::get_if<protocol::Frame>(&*f)) answers.push_back(json::parse(frame->body));
    }
    CHECK(answers[0].at("id") == 2);
    CHECK(answers[0].at("result").as_object().empty());
    CHECK(answers[1].at("id") == 3);
    CHECK(answers[1].at("error").at("code") == protocol::error_code::rate_limited);
    CHECK(answers[1].at("error").at("data").at("retry_after_ms").to_number<int64_t>() > 0);
  }

  TEST_CASE("server: an audited call whose params do not read is answered invalid_params, and the server stays up") {
    // task/upload is audited with its source's hash: params that do not
    // read once threw out of the request handler and ended torchexamd
    // (tests/fuzz/fuzz_server.cpp's seeds hold the case too).
    Server s("badparams");
    auto ana = s.login(s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()}));
    ana->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    const auto e = refusal(*ana, "task/upload", {{"task", 5}, {"source", "int main() {}"}});
    CHECK(e.code == protocol::error_code::invalid_params);
    CHECK(std::string(e.what()) == "params.task: expected a string");
    CHECK(ana->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ana");
    CHECK(audited(s.d.state, "call", "params do not read: params.task: expected a string"));
  }

  TEST_CASE("server: kill -9 of the server mid-training loses nothing, and submit --wait reconnects to the score") {
    Server s("kill9", {"--keepalive-timeout", "5"});
    const fs::path home = s.d.root / "ana";
    fs::create_directories(home / "fashion_mnist");
    const fs::path token = home / "ana.token";
    std::ofstream(token) << s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()}) << "\n";
    fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
    const std::string eve_token = s.issue("--add-examiner", "eve");
    {
      auto ana = s.login(slurp(token).substr(0, slurp(token).find('\n')));
      ana->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    }
    fs::copy_file(kSource / "tests/solutions/slow_train.cpp", home / "fashion_mnist/solution.cpp");
    // Eve hears every note. She logs in only now: her client pings only while
    // this thread waits on her connection, and an exam/start slower than the
    // 5 s keep-alive timeout (under ctest -j2) would get her dropped.
    auto eve = s.login(eve_token);

    const fs::path out = home / "submit.out";
    const fs::path was = fs::current_path();
    fs::current_path(home);  // the client reads TASK/solution.cpp from the folder it runs in
    ChildProcess submit(
        TORCHEXAM_CLI,
        {"--server", "127.0.0.1:" + std::to_string(s.port), "--ca-file", (kCa / "torchexam-ca/ca.crt").string(),
         "--token-file", token.string(), "--reconnect-for", "240", "submit", "fashion_mnist", "--wait"},
        out);
    fs::current_path(was);

    int64_t id = 0;
    const auto training = await(
        *eve,
        [&](const Notification& n) {
          if (n.method != "submission/progress" || !n.params.as_object().contains("epoch")) return false;
          id = field_int(n.params, "submission");
          return true;
        },
        std::chrono::seconds(240));
    REQUIRE_MESSAGE(training, slurp(out));
    REQUIRE_FALSE(submit.exited());
    const auto audit_before = store::AuditLog(s.d.state).records().size();

    s.d.kill9();  // by its pid (the Daemon's child)
    eve.reset();
    // The same port and state folder, as an examiner restarts a server.
    for (auto& a : s.d.extra_args)
      if (a == "127.0.0.1:0") a = "127.0.0.1:" + std::to_string(s.port);
    REQUIRE_FALSE(s.d.start());

    REQUIRE(wait_for([&] { return submit.exited().has_value(); }, std::chrono::seconds(400)));
    const std::string said = slurp(out);
    CAPTURE(said);
    CHECK(submit.wait() == 0);
    CHECK(said.find("lost the connection to the server 127.0.0.1:" + std::to_string(s.port)) != std::string::npos);
    CHECK(said.find("reconnecting...") != std::string::npos);
    CHECK(said.find(fmt::format("reconnected to 127.0.0.1:{}; following submission {} again", s.port, id)) !=
          std::string::npos);
    CHECK(said.find(fmt::format("submission {} (fashion_mnist): finished", id)) != std::string::npos);
    CHECK(said.find("verdict: ok") != std::string::npos);

    // Nothing was lost: the session, the submission graded again to the end,
    // the audit log from before the kill.
    auto ana = s.login(slurp(token).substr(0, slurp(token).find('\n')));
    const auto sub = ana->call(protocol::rpc::submission_get, protocol::SubmissionParams{id, true});
    CHECK(sub.state == SubmissionState::finished);
    CHECK(sub.verdict == std::optional<std::string>("ok"));
    CHECK(sub.attempts == 2);
    CHECK(sub.source == slurp(kSource / "tests/solutions/slow_train.cpp"));
    CHECK(ana->call(protocol::rpc::submission_list, protocol::SubmissionListParams{}).submissions.size() == 1);
    CHECK(store::AuditLog(s.d.state).records().size() >= audit_before);
    CHECK(audited(s.d.state, "call", "source sha256"));
  }
}

TEST_SUITE("server") {
  TEST_CASE("server: follow gives up reconnecting after --reconnect-for, saying how to follow again") {
    Server s("giveup");
    const fs::path home = s.d.root / "ana";
    fs::create_directories(home);
    const fs::path token = home / "ana.token";
    const std::string secret = s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()});
    std::ofstream(token) << secret << "\n";
    fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
    auto ana = s.login(secret);
    ana->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    const auto up = ana->call(protocol::rpc::task_upload,
                              protocol::UploadParams{"", "", "fashion_mnist", "solution.cpp",
                                                     slurp(kSource / "tests/solutions/slow_train.cpp")});
    const fs::path out = home / "follow.out";
    ChildProcess follow(
        TORCHEXAM_CLI,
        {"--server", "127.0.0.1:" + std::to_string(s.port), "--ca-file", (kCa / "torchexam-ca/ca.crt").string(),
         "--token-file", token.string(), "--reconnect-for", "2", "follow", std::to_string(up.submission)},
        out);
    // Following (it has said which stage the grading is in), and still graded.
    REQUIRE_MESSAGE(wait_for([&] { return slurp(out).find('[') != std::string::npos; }, std::chrono::seconds(120)),
                    slurp(out));
    REQUIRE_FALSE(follow.exited());
    s.d.kill9();  // and not restarted
    REQUIRE(wait_for([&] { return follow.exited().has_value(); }, std::chrono::seconds(60)));
    const std::string said = slurp(out);
    CAPTURE(said);
    CHECK(follow.wait() == 3);
    CHECK(said.find("reconnecting...") != std::string::npos);
    CHECK(said.find(fmt::format("gave up reconnecting to the server 127.0.0.1:{} after 2 s", s.port)) !=
          std::string::npos);
    CHECK(said.find(fmt::format("follow {}", up.submission)) != std::string::npos);
  }
}
