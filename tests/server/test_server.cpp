// The proctored server end to end, on loopback only: a real torchexamd with
// --listen and a throw-away CA (tests/server/make_test_ca.sh, the CTest
// fixture server.ca), real TLS clients (Client::connect_tls) and raw sockets.
// Each case is a CTest test of its own (tests/CMakeLists.txt); without the
// CA (no openssl) a case exits 77: skipped, never passed. Waits are
// conditions with deadlines.
#include <doctest/doctest.h>

#include "base/hash.hpp"
#include "daemon/access.hpp"
#include "daemon/credentials.hpp"
#include "daemon/tls_server.hpp"
#include "protocol/framing.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "server_util.hpp"
#include "store/audit_log.hpp"
#include "store/store.hpp"

#include <sqlite3.h>

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <regex>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using namespace torchexam::test;

TEST_SUITE("server") {
  TEST_CASE("server: a candidate logs in, starts their session in their server workspace and sees it") {
    Server s("start");
    const std::string token = s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()});
    auto c = s.login(token);
    const auto me = c->call(protocol::rpc::auth_whoami, protocol::Empty{});
    CHECK(me.role == "candidate");
    CHECK(me.name == "ana");
    CHECK_FALSE(me.session);
    // The candidate's workspace and mode are the server's, whatever the client sends.
    const auto st =
        c->call(protocol::rpc::exam_start, protocol::StartParams{"tiny", "/tmp/not-here", "exam", std::nullopt, false});
    CHECK(st.workspace == (s.d.state / "candidates" / "ana").string());
    CHECK(st.mode == "practice");
    CHECK(fs::exists(s.d.state / "candidates/ana/fashion_mnist/solution.cpp"));
    CHECK_FALSE(fs::exists("/tmp/not-here"));
    const auto again = c->call(protocol::rpc::exam_status, protocol::SessionParams{"", "/home/ana/anywhere"});
    CHECK(again.session == st.session);
    CHECK(c->call(protocol::rpc::auth_whoami, protocol::Empty{}).session == st.session);
    // A second connection with the same token finds the same session.
    CHECK(s.login(token)->call(protocol::rpc::exam_status, protocol::SessionParams{}).session == st.session);
  }

  TEST_CASE(
      "server: a wrong token is refused, and so are a malformed, an expired and a revoked one, each saying what to "
      "do") {
    Server s("tokens");
    const std::string token = s.issue("--add-candidate", "ana");
    auto refused = [&](const std::string& t) -> std::string {
      try {
        s.login(t);
      } catch (const protocol::RpcError& e) {
        CHECK(e.code == protocol::error_code::unauthorized);
        return e.what();
      }
      FAIL("the token was accepted: " << t);
      return "";
    };
    std::string wrong = token;
    wrong.back() = wrong.back() == '0' ? '1' : '0';
    CHECK(refused(wrong).find("the token is not valid (unknown, or mistyped)") == 0);
    CHECK(refused("let-me-in").find("this is not a TorchExam token") == 0);
    {
      // An expired token: issued by a clock long past, for a minute.
      auto db = store::Store::open(s.d.state);
      FakeClock past(1'000'000'000'000);
      const auto old = daemon::issue_token(*db, past, daemon::Role::candidate, "old", "", 60'000);
      CHECK(refused(old.token).find("the token of old expired at 20010909-014740 UTC") == 0);
    }
    auto live = s.login(token);
    CHECK(live->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ana");
    s.admin({"--revoke", "ana"});
    CHECK(refused(token).find("the token of ana was revoked at") == 0);
    // The connection logged in before the revocation is closed by the server.
    CHECK(
        wait_for([&] { return slurp(s.d.log).find("(candidate ana): its token was revoked at") != std::string::npos; },
                 std::chrono::seconds(10)));
    CHECK_THROWS_WITH_AS(live->call(protocol::rpc::auth_whoami, protocol::Empty{}),
                         doctest::Contains("torchexamd closed the connection"), std::runtime_error);
    const std::string list = s.admin({"--list-tokens"});
    CHECK(list.find("revoked") != std::string::npos);
    CHECK(list.find(token.substr(token.rfind('.') + 1)) == std::string::npos);  // never the secret
    CHECK(slurp(s.d.log).find("login refused: the token of ana was revoked") != std::string::npos);
  }

  TEST_CASE("server: candidate A cannot read, cancel or restore candidate B's work; every method tried") {
    Server s("isolation");
    auto a = s.login(s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()}));
    auto b = s.login(s.issue("--add-candidate", "ben", {"--environment", kTinyEnv.string()}));
    const auto sa = a->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    const auto sb = b->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    REQUIRE(sa.session != sb.session);
    // Ben's submission, cancelled by ben at once (nothing is graded).
    const auto sub =
        b->call(protocol::rpc::task_submit, protocol::SubmitParams{"", "", "fashion_mnist", "solution.cpp"});
    CHECK(b->call(protocol::rpc::submission_cancel, protocol::SubmissionParams{sub.submission, false}).cancelled);
    REQUIRE(wait_for(
        [&] {
          return b->call(protocol::rpc::submission_get, protocol::SubmissionParams{sub.submission, false}).state ==
                 SubmissionState::cancelled;
        },
        std::chrono::seconds(30)));
    const auto before = b->call(protocol::rpc::submission_get, protocol::SubmissionParams{sub.submission, true});

    int tried = 0;
    for (const auto& rule : daemon::access_table()) {
      const std::string m(rule.method);
      CAPTURE(m);
      json::object params;
      switch (rule.candidate) {
        case daemon::Scope::own_start:
          continue;  // nothing of ben's to name: tested above and below
        case daemon::Scope::own_submission:
        case daemon::Scope::own_report:
          params = {{"submission", sub.submission}};
          break;
        default:
          params = {{"session", sb.session}, {"task", "fashion_mnist"}};
          break;
      }
      const auto e = refusal(*a, m, params);
      CHECK(e.code == protocol::error_code::forbidden);
      ++tried;
    }
    CHECK(tried == static_cast<int>(daemon::access_table().size()) - 1);
    // Ana's start cannot reach into ben's workspace either (she has a session: refused as a conflict or kept hers).
    CHECK(a->call(protocol::rpc::exam_status, protocol::SessionParams{}).session == sa.session);
    // Ben's work is as it was, and ana heard nothing of it.
    const auto after = b->call(protocol::rpc::submission_get, protocol::SubmissionParams{sub.submission, true});
    CHECK(after == before);
    while (auto n = a->next_notification(std::chrono::milliseconds(200))) {
      CAPTURE(json::serialize(n->params));
      CHECK(json::serialize(n->params).find(sb.session) == std::string::npos);
    }
    CHECK(slurp(s.d.log).find("(candidate ana): refused: submission " + std::to_string(sub.submission) +
                              " is not one of yours") != std::string::npos);
  }

  TEST_CASE("server: examiner methods are refused to a candidate; the examiner lists and extends") {
    Server s("examiner");
    auto a = s.login(s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()}));
    const auto sa = a->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    for (const char* m :
         {"exam/list", "exam/extend", "rejudge/create", "daemon/info", "env/verify", "daemon/shutdown"}) {
      CAPTURE(m);
      const auto e = refusal(*a, m, json::object{{"session", sa.session}, {"seconds", 600}});
      CHECK(e.code == protocol::error_code::forbidden);
      CHECK(std::string(e.what()) == std::string(m) + " is not open to a candidate on this server");
    }
    auto eve = s.login(s.issue("--add-examiner", "eve"));
    CHECK(eve->call(protocol::rpc::auth_whoami, protocol::Empty{}).role == "examiner");
    const auto list = eve->call(protocol::rpc::exam_list, protocol::Empty{});
    REQUIRE(list.sessions.size() == 1);
    CHECK(list.sessions[0].session == sa.session);
    const auto extended = eve->call(protocol::rpc::exam_extend, protocol::ExtendParams{sa.session, 600});
    CHECK(extended.deadline_ms == list.sessions[0].deadline_ms + 600'000);
    CHECK(a->call(protocol::rpc::exam_status, protocol::SessionParams{}).deadline_ms == extended.deadline_ms);
    // The examiner does not sit exams, nor edit a candidate's work.
    CHECK(refusal(*eve, "exam/start", {{"environment", "tiny"}, {"workspace", ""}}).code ==
          protocol::error_code::forbidden);
    CHECK(refusal(*eve, "task/submit", {{"session", sa.session}, {"task", "fashion_mnist"}}).code ==
          protocol::error_code::forbidden);
    // And closes the exam.
    CHECK(eve->call(protocol::rpc::exam_stop, protocol::SessionParams{sa.session, ""}).state == SessionState::stopped);
  }

  TEST_CASE("server: an upload is hashed and submitted; an oversized one and a flood are refused and change nothing") {
    Server s("upload", {"--max-submissions-per-minute", "2"});
    auto a = s.login(s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()}));
    a->call(protocol::rpc::exam_start, protocol::StartParams{"", "", "practice", std::nullopt, false});
    auto count = [&] {
      return a->call(protocol::rpc::submission_list, protocol::SubmissionListParams{}).submissions.size();
    };
    const fs::path file = s.d.state / "candidates/ana/fashion_mnist/solution.cpp";
    const std::string starter = slurp(file);
    try {
      a->call(protocol::rpc::task_upload, protocol::UploadParams{"", "", "fashion_mnist", "solution.cpp",
                                                                 std::string(protocol::kMaxUploadBytes + 1, ' ')});
      FAIL("an oversized upload was taken");
    } catch (const protocol::RpcError& e) {
      CHECK(e.code == protocol::error_code::invalid_params);
      CHECK(std::string(e.what()) == fmt::format("the source is {} bytes, over the server's limit of {} bytes; nothing "
                                                 "was submitted",
                                                 protocol::kMaxUploadBytes + 1, protocol::kMaxUploadBytes));
    }
    CHECK(count() == 0);
    CHECK(slurp(file) == starter);

    const std::string source = starter + "\n// ana's version\n";
    std::vector<int64_t> ids;
    for (int i = 0; i < 2; ++i) {
      const auto up =
          a->call(protocol::rpc::task_upload,
                  protocol::UploadParams{"", "", "fashion_mnist", "solution.cpp", source + std::to_string(i)});
      CHECK(up.source_sha256 == sha256_hex(source + std::to_string(i)));
      CHECK(up.bytes == static_cast<int64_t>(source.size() + 1));
      CHECK(slurp(file) == source + std::to_string(i));
      CHECK(a->call(protocol::rpc::submission_get, protocol::SubmissionParams{up.submission, true}).source ==
            source + std::to_string(i));
      a->call(protocol::rpc::submission_cancel, protocol::SubmissionParams{up.submission, false});
      ids.push_back(up.submission);
    }
    const auto flood = refusal(*a, "task/upload", {{"task", "fashion_mnist"}, {"source", "int main() {}"}});
    CHECK(flood.code == protocol::error_code::rate_limited);
    CHECK(std::string(flood.what()).find("too many submissions: this server takes 2 a minute from each candidate") ==
          0);
    CHECK(refusal(*a, "task/submit", {{"task", "fashion_mnist"}}).code == protocol::error_code::rate_limited);
    CHECK(count() == 2);
    CHECK(slurp(file) == source + "1");

    // The audit log has the login, both uploads with their hashes, the refusals; and it cannot be changed.
    const auto log = store::AuditLog(s.d.state).records();
    auto has = [&](const std::string& event, const std::string& needle) {
      for (const auto& r : log)
        if (r.event == event && (r.detail + " " + r.method + " " + r.who).find(needle) != std::string::npos)
          return true;
      return false;
    };
    CHECK(has("login", "candidate ana"));
    CHECK(has("call", "source sha256 " + sha256_hex(source + "0")));
    CHECK(has("call", "task/upload"));
    CHECK(has("refused", "too many submissions"));
    CHECK(has("call", "exam/start"));
    sqlite3* raw = nullptr;
    REQUIRE(sqlite3_open((s.d.state / "torchexam.db").c_str(), &raw) == SQLITE_OK);
    char* error = nullptr;
    CHECK(sqlite3_exec(raw, "DELETE FROM audit", nullptr, nullptr, &error) != SQLITE_OK);
    CHECK(std::string(error ? error : "") == "the audit log is append-only");
    sqlite3_free(error);
    error = nullptr;
    CHECK(sqlite3_exec(raw, "UPDATE audit SET who = 'nobody'", nullptr, nullptr, &error) != SQLITE_OK);
    sqlite3_free(error);
    sqlite3_close(raw);
    CHECK(store::AuditLog(s.d.state).records().size() >= log.size());
  }

  TEST_CASE(
      "server: the torchexam client over --server starts, uploads and reads; a bad token file or UTF-8 is refused") {
    Server s("cli");
    const fs::path home = s.d.root / "ana";
    fs::create_directories(home / "fashion_mnist");
    const fs::path token = home / "ana.token";
    std::ofstream(token) << s.issue("--add-candidate", "ana", {"--environment", kTinyEnv.string()}) << "\n";
    fs::permissions(token, fs::perms::owner_read | fs::perms::owner_write);
    auto cli = [&](std::vector<std::string> args, const std::string& name, fs::path with = {}) {
      if (with.empty()) with = token;
      std::vector<std::string> all = {"--server",     "127.0.0.1:" + std::to_string(s.port),
                                      "--ca-file",    (kCa / "torchexam-ca/ca.crt").string(),
                                      "--token-file", with.string()};
      all.insert(all.end(), args.begin(), args.end());
      const fs::path out = home / (name + ".out");
      const fs::path was = fs::current_path();
      fs::current_path(home);  // the client reads TASK/FILE from the folder it runs in
      ChildProcess p(TORCHEXAM_CLI, all, out);
      fs::current_path(was);
      const int rc = p.wait();
      return std::make_pair(rc, slurp(out));
    };
    auto [rc, out] = cli({"start", "tiny"}, "start");
    CHECK(rc == 0);
    CHECK(out.find("started practice session") != std::string::npos);
    std::ofstream(home / "fashion_mnist/solution.cpp")
        << slurp(s.d.state / "candidates/ana/fashion_mnist/solution.cpp") << "// edited here\n";
    std::tie(rc, out) = cli({"submit", "fashion_mnist"}, "submit");
    CHECK(rc == 0);
    CHECK(out.find("uploaded fashion_mnist/solution.cpp") != std::string::npos);
    CHECK(slurp(s.d.state / "candidates/ana/fashion_mnist/solution.cpp").find("// edited here") != std::string::npos);
    std::tie(rc, out) = cli({"history", "fashion_mnist"}, "history");
    CHECK(rc == 0);
    std::ofstream(home / "latin1.cpp") << "// caf\xe9\n";
    std::tie(rc, out) = cli({"submit", "fashion_mnist", "--file", "./latin1.cpp"}, "latin1");
    CHECK(rc == 2);
    CHECK(out.find("latin1.cpp is not UTF-8 text") != std::string::npos);
    std::tie(rc, out) = cli({"daemon", "stop"}, "daemon");
    CHECK(rc == 2);
    // The examiner's commands: refused to ana, open to eve.
    std::tie(rc, out) = cli({"sessions"}, "ana-sessions");
    CHECK(rc == 1);
    CHECK(out.find("exam/list is not open to a candidate on this server") != std::string::npos);
    const fs::path eve = home / "eve.token";
    std::ofstream(eve) << s.issue("--add-examiner", "eve") << "\n";
    fs::permissions(eve, fs::perms::owner_read | fs::perms::owner_write);
    std::tie(rc, out) = cli({"sessions"}, "sessions", eve);
    CHECK(rc == 0);
    CHECK(out.find(" practice running ") != std::string::npos);
    CHECK(out.find((s.d.state / "candidates/ana").string()) != std::string::npos);
    const std::regex session_id(R"(^([0-9a-f]+)  practice)");
    std::smatch m;
    REQUIRE(std::regex_search(out, m, session_id));
    const std::string id = m[1];
    std::tie(rc, out) = cli({"extend", "--session", id, "30m"}, "extend", eve);
    CHECK(rc == 0);
    // The tiny exam's hour, less the seconds since the start (under half a
    // second of them rounds to 1h30m), plus the 30 minutes.
    CHECK_MESSAGE(std::regex_search(out, std::regex("session " + id + ": 1h(29|30)m left now")), out);
    fs::permissions(token, fs::perms::group_read, fs::perm_options::add);
    std::tie(rc, out) = cli({"status"}, "token-mode");
    CHECK(rc == 2);
    CHECK(out.find("may be read by others than you; make it yours alone: chmod 600") != std::string::npos);
  }

  TEST_CASE("server: a plaintext client is refused with a clear error and the connection closed") {
    Server s("plaintext");
    const int fd = tcp_connect(s.port);
    const std::string hello = protocol::encode_frame(R"({"jsonrpc":"2.0","id":1,"method":"daemon/info","params":{}})");
    REQUIRE(::write(fd, hello.data(), hello.size()) == static_cast<ssize_t>(hello.size()));
    const auto got = read_until_closed(fd, std::chrono::seconds(10));
    ::close(fd);
    REQUIRE(got);
    protocol::FrameReader reader;
    reader.feed(*got);
    auto frame = reader.next();
    REQUIRE(frame);
    REQUIRE(std::holds_alternative<protocol::Frame>(*frame));
    const json::value v = json::parse(std::get<protocol::Frame>(*frame).body);
    CHECK(v.at("error").at("code") == protocol::error_code::invalid_request);
    CHECK(std::string(v.at("error").at("message").as_string()).find("this port speaks TLS only") == 0);
    CHECK(wait_for(
        [&] { return slurp(s.d.log).find("refused a plaintext connection from 127.0.0.1") != std::string::npos; },
        std::chrono::seconds(5)));
  }

  TEST_CASE("server: a client that does not trust the CA is refused, and the server says why") {
    Server s("untrusted");
    const std::string token = s.issue("--add-candidate", "ana");
    try {
      Client::connect_tls(s.remote(token, kCa / "other-ca.crt"));
      FAIL("a client trusting another CA connected");
    } catch (const ConnectError& e) {
      const std::string text = e.what();
      CAPTURE(text);
      CHECK(text.find("the TLS handshake with 127.0.0.1:") == 0);
      CHECK(text.find("certificate verify failed") != std::string::npos);
    }
    CHECK(wait_for([&] { return slurp(s.d.log).find("TLS handshake with 127.0.0.1") != std::string::npos; },
                   std::chrono::seconds(5)));
    CHECK(s.login(token)->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ana");  // the right CA works
  }

  TEST_CASE("server: a connection that sends nothing is dropped after the idle timeout") {
    Server s("idle");  // --idle-timeout 0.5
    const auto opened = std::chrono::steady_clock::now();
    const int fd = tcp_connect(s.port);
    const auto got = read_until_closed(fd, std::chrono::seconds(10));
    const auto held = std::chrono::steady_clock::now() - opened;
    ::close(fd);
    REQUIRE(got);
    CHECK(got->empty());
    CHECK(held >= std::chrono::milliseconds(400));
    CHECK(wait_for([&] { return slurp(s.d.log).find("no login within 0.5 s (--idle-timeout)") != std::string::npos; },
                   std::chrono::seconds(5)));
    // A TLS client that logs in is not dropped for being quiet afterwards.
    auto c = s.login(s.issue("--add-candidate", "ana"));
    CHECK_FALSE(c->next_notification(std::chrono::milliseconds(1000)));
    CHECK(c->call(protocol::rpc::auth_whoami, protocol::Empty{}).name == "ana");
  }

  TEST_CASE("server: its state folder and the candidates' workspaces are private; readable data sets are warned of") {
    // Data sets other users can reach: every folder down to them lets others in.
    const fs::path data = fs::temp_directory_path() / ("torchexam-open-data-" + std::to_string(getpid()));
    fs::create_directories(data);
    fs::permissions(data, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                              fs::perms::others_read | fs::perms::others_exec);
    const char* was = std::getenv("TORCHEXAM_DATA_DIR");
    const std::string saved = was ? was : "";
    ::setenv("TORCHEXAM_DATA_DIR", data.c_str(), 1);
    auto mode = [](const fs::path& p) { return static_cast<unsigned>(fs::status(p).permissions()) & 0777u; };
    const std::string warning = "other users of this machine can read the data sets in " + data.string();
    {
      Server s("private");
      CHECK(mode(s.d.state) == 0700u);
      CHECK(mode(s.d.state / "candidates") == 0700u);
      CHECK_MESSAGE(slurp(s.d.log).find(warning) != std::string::npos, slurp(s.d.log));
      // Opened by someone between two runs: closed again at the start, and said.
      s.d.kill9();
      fs::permissions(s.d.state, fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                                     fs::perms::others_exec, fs::perm_options::add);
      fs::permissions(data, fs::perms::others_all, fs::perm_options::remove);
      fs::remove(s.d.log);
      REQUIRE_FALSE(s.d.start());
      CHECK(mode(s.d.state) == 0700u);
      const std::string log = slurp(s.d.log);
      CHECK_MESSAGE(log.find("made " + s.d.state.string() + " private (mode 755 -> 700)") != std::string::npos, log);
      CHECK(log.find(warning) == std::string::npos);
    }
    if (was) ::setenv("TORCHEXAM_DATA_DIR", saved.c_str(), 1);
    else ::unsetenv("TORCHEXAM_DATA_DIR");
    fs::remove_all(data);
  }

  TEST_CASE("server: exam mode refuses to start below the sandbox floor") {
    need_ca();
    Daemon d("tls-floor");
    d.extra_args = {"--listen",   "127.0.0.1:0",
                    "--tls-cert", (kCa / "torchexam-ca/server.crt").string(),
                    "--tls-key",  (kCa / "torchexam-ca/server.key").string()};
    setenv("TORCHEXAM_SANDBOX_DISABLE", "seccomp", 1);
    const int status = d.run_expecting_exit();
    unsetenv("TORCHEXAM_SANDBOX_DISABLE");
    CHECK(status == 1);
    const std::string log = slurp(d.log);
    CHECK(log.find("--listen in exam mode refuses to start: this machine lacks the sandbox floor") !=
          std::string::npos);
    CHECK(log.find("seccomp missing (disabled by TORCHEXAM_SANDBOX_DISABLE)") != std::string::npos);
  }

  TEST_CASE("server: a certificate that does not name the host is refused (in process)") {
    need_ca();
    boost::asio::io_context io;
    protocol::Binder binder;
    daemon::TlsServerOptions o;
    o.cert_file = (kCa / "wrong-name.crt").string();
    o.key_file = (kCa / "wrong-name.key").string();
    o.log = [](const std::string&) {};
    daemon::TlsServer server(io, o, binder);
    server.start();
    std::thread serve([&] { io.run_for(std::chrono::seconds(10)); });
    RemoteOptions r;
    r.host = "127.0.0.1";
    r.port = server.port();
    r.ca_file = (kCa / "torchexam-ca/ca.crt").string();
    r.token = "unused";
    std::string text;
    try {
      Client::connect_tls(r);
    } catch (const ConnectError& e) {
      text = e.what();
    }
    boost::asio::post(io, [&] {
      server.stop();
      io.stop();
    });
    serve.join();
    CAPTURE(text);
    CHECK(text.find("certificate verify failed") != std::string::npos);
    CHECK(text.find("IP address mismatch") != std::string::npos);  // OpenSSL's words for an IP the certificate lacks
  }

  // Slurm behind the server (docs/server.md): the examiner points a token at
  // an environment folder; one that does not load is refused then, with the
  // loader's message, not at the candidate's join on exam day.
  TEST_CASE("server: a token for an environment that does not load is not issued, and says why") {
    Daemon d("tls-token-env");
    int runs = 0;
    auto admin = [&](const std::vector<std::string>& args) {
      std::vector<std::string> all = {"--state-dir", d.state.string()};
      all.insert(all.end(), args.begin(), args.end());
      const fs::path out = d.root / ("admin-" + std::to_string(++runs) + ".out");
      ChildProcess p(kDaemon, all, out);
      const int rc = p.wait();
      return std::make_pair(rc, slurp(out));
    };
    // A folder that is not there.
    auto [rc, out] = admin({"--add-candidate", "ana", "--environment", (d.root / "no-such-env").string()});
    CAPTURE(out);
    CHECK(rc == 2);
    CHECK(out.find("no token issued: the environment " + (d.root / "no-such-env").string() + " does not load") !=
          std::string::npos);
    CHECK(out.find("txm1.") == std::string::npos);
    // A `grading:` block for Slurm with a relative shared folder.
    const fs::path env = d.root / "slurm-env";
    fs::copy(kTinyEnv, env, fs::copy_options::recursive);
    std::ofstream(env / "environment.yaml", std::ios::app)
        << "grading:\n  backend: slurm\n  slurm:\n    shared_dir: shared/torchexam\n";
    std::tie(rc, out) = admin({"--add-candidate", "ben", "--environment", env.string()});
    CHECK(rc == 2);
    CHECK(out.find("environment.yaml:") != std::string::npos);
    CHECK(out.find("key 'shared_dir' must be an absolute path") != std::string::npos);
    CHECK(out.find("issue the token again") != std::string::npos);
    std::tie(rc, out) = admin({"--list-tokens"});
    CHECK(out.find("ana") == std::string::npos);
    CHECK(out.find("ben") == std::string::npos);
    // An absolute shared folder that is not there yet: issued, with where it
    // grades and a warning to mount the shared filesystem.
    const fs::path shared = d.root / "not-mounted";
    std::ofstream(env / "environment.yaml")
        << slurp(kTinyEnv / "environment.yaml")
        << "grading:\n  backend: slurm\n  slurm:\n    shared_dir: " << shared.string() << "\n";
    std::tie(rc, out) = admin({"--add-candidate", "cy", "--environment", env.string()});
    CHECK(rc == 0);
    CHECK(out.find("txm1.") != std::string::npos);
    CHECK(out.find("grades on Slurm: job folders and build cache in " + shared.string()) != std::string::npos);
    CHECK(out.find("warning: " + shared.string() + " (grading.slurm.shared_dir) is not a folder on this machine") !=
          std::string::npos);
    CHECK_FALSE(fs::exists(shared));
  }

  TEST_CASE("server: bad server flags are refused with what to give") {
    need_ca();
    Daemon d("tls-flags");
    d.extra_args = {"--listen",   "127.0.0.1",
                    "--tls-cert", (kCa / "torchexam-ca/server.crt").string(),
                    "--tls-key",  (kCa / "torchexam-ca/server.key").string()};
    CHECK(d.run_expecting_exit() == 2);
    CHECK(slurp(d.log).find("--listen takes HOST:PORT") != std::string::npos);
    d.extra_args = {"--listen",      "127.0.0.1:0",
                    "--tls-cert",    (kCa / "torchexam-ca/server.crt").string(),
                    "--tls-key",     (kCa / "other-ca.key").string(),
                    "--server-mode", "practice"};
    CHECK(d.run_expecting_exit() == 1);
    CAPTURE(slurp(d.log));
    CHECK(slurp(d.log).find("does not match the certificate") != std::string::npos);
  }
}
