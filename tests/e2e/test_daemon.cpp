// torchexamd end to end: a real daemon on a private socket and state folder,
// real clients. The protocol transcript, notifications to two clients,
// kill -9 in the middle of training, permissions and the single-instance
// rule, diagnostics on save. Waits are conditions with deadlines.
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "client/client.hpp"
#include "daemon_util.hpp"
#include "protocol/framing.hpp"
#include "protocol/jsonrpc.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <dirent.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;

namespace {

const fs::path kSource = TORCHEXAM_SOURCE_DIR;
const fs::path kTinyEnv = kSource / "tests/environments/tiny";

using namespace torchexam::test;

// Expected-subset match: "*" matches anything; a string with '*' is a glob.
bool glob(const std::string& pattern, const std::string& s) {
  std::string re;
  for (char c : pattern) re += c == '*' ? std::string(".*") : (std::isalnum(static_cast<unsigned char>(c)) ? std::string(1, c) : std::string("\\") + c);
  return std::regex_match(s, std::regex(re));
}

bool matches(const json::value& expected, const json::value& actual, std::string& why, const std::string& path) {
  if (expected.is_string() && expected.get_string() == "*") return true;
  if (expected.is_object()) {
    if (!actual.is_object()) return why = path + ": expected an object", false;
    for (const auto& [k, v] : expected.get_object()) {
      const auto* a = actual.get_object().if_contains(k);
      if (!a) return why = path + "." + std::string(k) + ": missing", false;
      if (!matches(v, *a, why, path + "." + std::string(k))) return false;
    }
    return true;
  }
  if (expected.is_array()) {
    if (!actual.is_array() || actual.get_array().size() != expected.get_array().size())
      return why = path + ": array length differs", false;
    for (size_t i = 0; i < expected.get_array().size(); ++i)
      if (!matches(expected.get_array()[i], actual.get_array()[i], why, path + "[" + std::to_string(i) + "]"))
        return false;
    return true;
  }
  if (expected.is_number() && actual.is_number()) {
    if (expected.to_number<double>() == actual.to_number<double>()) return true;
    return why = path + ": " + json::serialize(actual) + " != " + json::serialize(expected), false;
  }
  if (expected.is_string() && actual.is_string()) {
    const std::string e(expected.get_string()), a(actual.get_string());
    if (e.find('*') != std::string::npos ? glob(e, a) : e == a) return true;
  } else if (expected == actual) {
    return true;
  }
  why = path + ": " + json::serialize(actual) + " does not match " + json::serialize(expected);
  return false;
}

// A raw connection for the transcript: frames out, responses in.
struct RawConnection {
  int fd = -1;
  protocol::FrameReader reader;
  explicit RawConnection(const fs::path& socket) {
    fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", socket.c_str());
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  }
  ~RawConnection() { ::close(fd); }
  void send_raw(const std::string& bytes) { REQUIRE(::write(fd, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size())); }
  // The next response (notifications skipped), or nullopt after `timeout`.
  std::optional<json::value> response(std::chrono::milliseconds timeout) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      while (auto f = reader.next()) {
        if (auto* frame = std::get_if<protocol::Frame>(&*f)) {
          json::value v = json::parse(frame->body);
          if (v.get_object().contains("id")) return v;
        }
      }
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
      if (left.count() <= 0) return std::nullopt;
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[65536];
      const ssize_t n = ::read(fd, buf, sizeof buf);
      if (n <= 0) return std::nullopt;
      reader.feed(std::string_view(buf, static_cast<size_t>(n)));
    }
  }
};

std::string substitute(std::string s, const std::map<std::string, std::string>& vars) {
  for (const auto& [k, v] : vars)
    for (size_t pos; (pos = s.find(k)) != std::string::npos;) s.replace(pos, k.size(), v);
  return s;
}

std::string unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 1 < s.size() && (s[i + 1] == 'r' || s[i + 1] == 'n')) {
      out += s[i + 1] == 'r' ? '\r' : '\n';
      ++i;
    } else {
      out += s[i];
    }
  }
  return out;
}

json::object start_params(const Daemon& d, const char* mode = "practice") {
  return {{"environment", kTinyEnv.string()}, {"workspace", (d.root / "ws").string()}, {"mode", mode}};
}

}  // namespace

TEST_SUITE("daemon") {
  TEST_CASE("protocol transcript: every method and every error") {
    Daemon d("transcript");
    REQUIRE_FALSE(d.start());
    fs::create_directories(d.root / "ws2");
    const std::map<std::string, std::string> vars = {{"$WS2", (d.root / "ws2").string()},
                                                     {"$WS", (d.root / "ws").string()},
                                                     {"$ENV", kTinyEnv.string()},
                                                     {"$BADENV", (d.root / "no-such-env").string()}};
    RawConnection c(d.socket);
    std::ifstream in(kSource / "tests/daemon/protocol.transcript");
    REQUIRE(in);
    std::string line, last_sent;
    bool repeat = false;
    int lineno = 0, checked = 0;
    while (std::getline(in, line)) {
      ++lineno;
      if (line.empty() || line[0] == '#') continue;
      CAPTURE(lineno);
      CAPTURE(line);
      if (line.rfind("raw> ", 0) == 0) {
        c.send_raw(unescape(line.substr(5)));
      } else if (line.rfind(">? ", 0) == 0 || line.rfind("> ", 0) == 0) {
        repeat = line[1] == '?';
        last_sent = substitute(line.substr(repeat ? 3 : 2), vars);
        c.send_raw(protocol::encode_frame(last_sent));
      } else if (line == "<none") {
        CHECK_FALSE(c.response(std::chrono::milliseconds(300)));
        ++checked;
      } else if (line.rfind("< ", 0) == 0) {
        const json::value expected = json::parse(substitute(line.substr(2), vars));
        std::string why;
        auto got = c.response(std::chrono::seconds(30));
        REQUIRE_MESSAGE(got, "no response");
        // ">?" asks again until the state arrives: a cancel reaches a
        // job between steps, and a loaded machine can stretch a step.
        const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(120);
        while (repeat && !matches(expected, *got, why, "") && std::chrono::steady_clock::now() < until) {
          std::this_thread::sleep_for(std::chrono::milliseconds(20));  // the polling interval
          c.send_raw(protocol::encode_frame(last_sent));
          got = c.response(std::chrono::seconds(30));
          REQUIRE(got);
        }
        why.clear();
        CHECK_MESSAGE(matches(expected, *got, why, ""), why << "\n  got " << json::serialize(*got));
        repeat = false;
        ++checked;
      } else {
        FAIL("unknown transcript line");
      }
    }
    CHECK(checked >= 30);  // the whole file was read
    CHECK(d.wait_exit() == 0);  // daemon/shutdown ends it cleanly
    CHECK_FALSE(fs::exists(d.socket));
  }

  TEST_CASE("socket and folder are private, and a second daemon is refused naming the first") {
    Daemon d("single");
    REQUIRE_FALSE(d.start());
    struct stat st {};
    REQUIRE(::stat(d.socket.parent_path().c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    REQUIRE(::stat(d.socket.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    CHECK(S_ISSOCK(st.st_mode));

    Daemon second("single-second");
    second.socket = d.socket;  // the same socket as the first
    second.log = d.root / "second.log";
    CHECK(second.run_expecting_exit() == 1);
    CHECK(slurp(d.root / "second.log").find("already running (pid " + std::to_string(d.pid) + ")") !=
          std::string::npos);
    // The first daemon still serves, and SIGTERM stops it cleanly.
    CHECK(d.client()->call("daemon/info", json::object{}).at("pid").to_number<int>() == d.pid);
    ::kill(d.pid, SIGTERM);
    CHECK(d.wait_exit() == 0);
    CHECK_FALSE(fs::exists(d.socket));
  }

  // After a kill -9, a child the daemon had just forked (not yet at exec)
  // may hold the socket's lock a moment longer. The holder here is such a
  // process: the lock file names a pid that no longer runs. The restart
  // waits for the lock instead of refusing, and starts once it is free.
  TEST_CASE("a restart waits for the lock a killed daemon's last child still holds, then starts") {
    Daemon d("leftover-lock");
    fs::create_directories(d.socket.parent_path());
    fs::permissions(d.socket.parent_path(), fs::perms::owner_all, fs::perm_options::replace);
    const std::string lock = d.socket.string() + ".lock";
    const pid_t dead = ::fork();  // a pid that no longer runs: a child reaped at once
    if (dead == 0) ::_exit(0);
    REQUIRE(dead > 0);
    REQUIRE(::waitpid(dead, nullptr, 0) == dead);
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    const pid_t holder = ::fork();
    if (holder == 0) {
      const int fd = ::open(lock.c_str(), O_RDWR | O_CREAT, 0600);
      if (fd < 0 || ::flock(fd, LOCK_EX) != 0) ::_exit(1);
      const std::string pid = std::to_string(dead) + "\n";
      if (::write(fd, pid.data(), pid.size()) < 0 || ::write(ready[1], "x", 1) != 1) ::_exit(1);
      ::usleep(1500 * 1000);
      ::_exit(0);
    }
    REQUIRE(holder > 0);
    ::close(ready[1]);
    char c = 0;
    REQUIRE(::read(ready[0], &c, 1) == 1);
    ::close(ready[0]);
    CHECK_FALSE(d.start());  // it waited, then started: no refusal naming the dead pid
    int status = 0;
    CHECK(::waitpid(holder, &status, WNOHANG) == holder);  // the holder was gone before it listened
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);
    CHECK(slurp(d.log).find("already running") == std::string::npos);
    CHECK(d.client()->call("daemon/info", json::object{}).at("pid").to_number<int>() == d.pid);
  }

  TEST_CASE("a client that disconnects mid-request harms nothing") {
    Daemon d("disconnect");
    REQUIRE_FALSE(d.start());
    d.client()->call("exam/start", start_params(d));
    {
      RawConnection half(d.socket);
      half.send_raw("Content-Length: 500\r\n\r\n{\"jsonrpc\":");  // then gone
    }
    {
      RawConnection gone(d.socket);
      gone.send_raw(protocol::encode_frame(
          R"({"jsonrpc":"2.0","id":1,"method":"task/submit","params":{"task":"fashion_mnist"}})"));
    }  // closed before the answer
    auto c = d.client();
    CHECK(wait_for([&] { return !c->call("submission/list", json::object{}).at("submissions").as_array().empty(); },
                   std::chrono::seconds(10)));
    CHECK(c->call("daemon/info", json::object{}).at("pid").to_number<int>() == d.pid);
  }

  // The write path (server.hpp): the replies to the requests of one read go
  // out together, several frames per sendmsg, and a full socket waits for
  // room. Requests sent in one write are answered whole and in order.
  TEST_CASE("pipelined requests sent in one write are answered in order, whole") {
    Daemon d("pipelined");
    REQUIRE_FALSE(d.start());
    d.client()->call("exam/start", start_params(d));
    RawConnection c(d.socket);
    // 100 requests: status (about 1 KB answers), info, and an unknown method
    // (an error answer) in turn.
    auto request = [](int id) {
      const char* method = id % 3 == 0 ? "exam/status" : id % 3 == 1 ? "daemon/info" : "no/such_method";
      return protocol::encode_frame(fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"{}","params":{{}}}})", id, method));
    };
    std::string batch;
    for (int id = 1; id <= 100; ++id) batch += request(id);
    c.send_raw(batch);
    for (int id = 1; id <= 100; ++id) {
      CAPTURE(id);
      auto got = c.response(std::chrono::seconds(30));
      REQUIRE(got);
      const auto& o = got->as_object();
      REQUIRE(o.at("id").to_number<int>() == id);
      if (id % 3 == 2) CHECK(o.at("error").at("code").to_number<int>() == protocol::error_code::method_not_found);
      else CHECK(o.contains("result"));
      if (id % 3 == 0) CHECK(o.at("result").at("tasks").as_array().size() == 1);
    }
    CHECK_FALSE(c.response(std::chrono::milliseconds(200)));  // nothing more

    // More answers than the socket holds (about 4 MB): the daemon waits for
    // room and loses nothing, while the client reads them at its own pace.
    batch.clear();
    for (int id = 1; id <= 4000; ++id) batch += protocol::encode_frame(
        fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"exam/status","params":{{}}}})", id));
    c.send_raw(batch);
    for (int id = 1; id <= 4000; ++id) {
      auto got = c.response(std::chrono::seconds(30));
      REQUIRE_MESSAGE(got, "no answer to request " << id);
      REQUIRE(got->as_object().at("id").to_number<int>() == id);
      REQUIRE(got->as_object().contains("result"));
    }
  }

  TEST_CASE("a client that disconnects in the middle of a batch harms nothing") {
    Daemon d("mid-batch");
    REQUIRE_FALSE(d.start());
    d.client()->call("exam/start", start_params(d));
    RawConnection bystander(d.socket);  // connected throughout, gets its answers
    std::string batch;
    for (int id = 1; id <= 4000; ++id) batch += protocol::encode_frame(
        fmt::format(R"({{"jsonrpc":"2.0","id":{},"method":"exam/status","params":{{}}}})", id));
    {
      RawConnection reader(d.socket);  // reads one answer of 4000, then goes
      reader.send_raw(batch);
      auto first = reader.response(std::chrono::seconds(30));
      REQUIRE(first);
      CHECK(first->as_object().at("id").to_number<int>() == 1);
    }
    {
      RawConnection silent(d.socket);  // reads nothing at all
      silent.send_raw(batch);
    }
    {
      RawConnection half(d.socket);  // gone in the middle of a frame of a batch
      half.send_raw(batch.substr(0, batch.size() / 2 + 7));
    }
    bystander.send_raw(protocol::encode_frame(R"({"jsonrpc":"2.0","id":7,"method":"daemon/info","params":{}})"));
    auto info = bystander.response(std::chrono::seconds(30));
    REQUIRE(info);
    CHECK(info->as_object().at("id").to_number<int>() == 7);
    CHECK(info->as_object().at("result").at("pid").to_number<int>() == d.pid);
    auto c = d.client();
    CHECK(c->call("exam/status", json::object{}).at("tasks").as_array().size() == 1);
    CHECK(c->call("daemon/info", json::object{}).at("pid").to_number<int>() == d.pid);
  }

  TEST_CASE("two clients both receive the notifications of one submission") {
    Daemon d("two-clients");
    REQUIRE_FALSE(d.start());
    auto a = d.client();
    auto b = d.client();
    a->call("exam/start", start_params(d));
    b->call("daemon/info", json::object{});  // b is connected and served
    const int64_t id = field_int(a->call("task/submit", json::object{{"task", "fashion_mnist"}}), "submission");
    for (Client* c : {a.get(), b.get()}) {
      auto train = await(*c, [&](const Notification& n) {
        return n.method == "submission/progress" && field_int(n.params, "submission") == id &&
               n.params.as_object().contains("epoch");
      }, std::chrono::seconds(120));
      CHECK(train);
      auto done = await(*c, [&](const Notification& n) {
        return n.method == "submission/finished" && field_int(n.params, "submission") == id;
      }, std::chrono::seconds(120));
      REQUIRE(done);
      CHECK(json::value_to<std::string>(done->params.at("verdict")) == "ok");
    }
    auto st = a->call("exam/status", json::object{});
    CHECK(st.at("tasks").at(0).at("best_score").to_number<int>() >= 1);
  }

  TEST_CASE("kill -9 while a submission trains: restart loses nothing") {
    Daemon d("kill9");
    REQUIRE_FALSE(d.start());
    auto c = d.client();
    auto started = c->call("exam/start", start_params(d, "exam"));
    const std::string session(started.at("session").as_string());
    const int64_t deadline = field_int(started, "deadline_ms");
    fs::copy_file(kSource / "tests/solutions/slow_train.cpp", d.root / "ws/fashion_mnist/solution.cpp",
                  fs::copy_options::overwrite_existing);
    const int64_t id = field_int(c->call("task/submit", json::object{{"task", "fashion_mnist"}}), "submission");
    auto training = await(*c, [&](const Notification& n) {
      return n.method == "submission/progress" && field_int(n.params, "submission") == id &&
             n.params.as_object().contains("epoch");
    }, std::chrono::seconds(120));
    REQUIRE(training);
    REQUIRE(count_processes("torchexam-runne") > 0);

    d.kill9();
    // The grading tree died with the daemon.
    CHECK(wait_for([] { return count_processes("torchexam-runne") == 0; }, std::chrono::seconds(10)));

    REQUIRE_FALSE(d.start());
    auto again = d.client();
    auto st = again->call("exam/status", json::object{});
    CHECK(json::value_to<std::string>(st.at("session")) == session);
    CHECK(json::value_to<std::string>(st.at("mode")) == "exam");
    CHECK(field_int(st, "deadline_ms") == deadline);  // the clock kept running, nothing reset it
    const double left = st.at("remaining_s").to_number<double>();
    CHECK(left < 3600);
    CHECK(left > 3000);
    // The interrupted submission is graded again, to the end.
    bool finished = wait_for(
        [&] {
          auto s = again->call("submission/get", json::object{{"submission", id}});
          return json::value_to<std::string>(s.at("state")) == "finished";
        },
        std::chrono::seconds(180));
    REQUIRE(finished);
    auto s = again->call("submission/get", json::object{{"submission", id}});
    CHECK(json::value_to<std::string>(s.at("verdict")) == "ok");
    CHECK(field_int(s, "attempts") == 2);
    // The checkpoint and logs are kept in the store by content hash.
    const auto& artifacts = s.at("result").at("artifacts").as_object();
    CHECK(artifacts.contains("checkpoint"));
    CHECK(artifacts.contains("train_log"));
  }

  TEST_CASE("a save with a syntax error is diagnosed, and saving never submits") {
    Daemon d("diagnostics");
    REQUIRE_FALSE(d.start());
    auto c = d.client();
    c->call("exam/start", start_params(d));
    const fs::path file = d.root / "ws/fashion_mnist/solution.cpp";
    {
      std::ofstream out(file, std::ios::app);
      out << "\nint broken( {\n";
    }
    auto diag = await(*c, [](const Notification& n) { return n.method == "workspace/diagnostics"; },
                      std::chrono::seconds(120));
    REQUIRE(diag);
    const auto& list = diag->params.at("diagnostics").as_array();
    REQUIRE_FALSE(list.empty());
    bool on_line = false;
    const std::string text = slurp(file);
    const int broken_line = static_cast<int>(std::count(text.begin(), text.end(), '\n'));
    for (const auto& dg : list)
      on_line = on_line || (json::value_to<std::string>(dg.at("severity")) == "error" &&
                            dg.at("line").to_number<int>() >= broken_line - 1);
    CHECK(on_line);
    auto st = c->call("exam/status", json::object{});
    CHECK_FALSE(st.at("tasks").at(0).at("diagnostics").as_array().empty());
    CHECK(st.at("tasks").at(0).at("submissions").to_number<int>() == 0);
  }

  TEST_CASE("exam/start checks the sandbox floor: exam mode refuses, practice mode warns") {
    // An environment whose floor requires seccomp, and a daemon whose probe
    // reports seccomp missing (TORCHEXAM_SANDBOX_DISABLE, inherited).
    Daemon d("floor");
    const fs::path env = d.root / "env";
    fs::copy(kTinyEnv, env, fs::copy_options::recursive);
    std::ofstream(env / "environment.yaml", std::ios::app) << "sandbox: {require: [rlimits, seccomp]}\n";
    setenv("TORCHEXAM_SANDBOX_DISABLE", "seccomp", 1);
    const auto exited = d.start();
    unsetenv("TORCHEXAM_SANDBOX_DISABLE");
    REQUIRE_FALSE(exited);
    auto c = d.client();
    json::object params{{"environment", env.string()}, {"workspace", (d.root / "ws").string()}, {"mode", "exam"}};
    try {
      c->call("exam/start", params);
      FAIL("an exam-mode start below the sandbox floor was accepted");
    } catch (const protocol::RpcError& e) {
      CHECK(e.code == -32005);
      const std::string message = e.what();
      CHECK(message.find("does not meet the exam environment's requirements") != std::string::npos);
      CHECK(message.find("fail  sandbox: seccomp missing (disabled by TORCHEXAM_SANDBOX_DISABLE)") !=
            std::string::npos);
      CHECK(message.find("fix: seccomp: unset TORCHEXAM_SANDBOX_DISABLE") != std::string::npos);
    }
    CHECK_FALSE(fs::exists(d.root / "ws"));
    params["mode"] = "practice";
    const json::value started = c->call("exam/start", params);
    const auto& checks = started.at("checks").as_array();
    bool sandbox_failed = false;
    for (const auto& check : checks)
      sandbox_failed = sandbox_failed || (json::value_to<std::string>(check.at("name")) == "sandbox" &&
                                          json::value_to<std::string>(check.at("status")) == "fail");
    CHECK(sandbox_failed);
    const json::value verified = c->call("env/verify", json::object{{"environment", env.string()}});
    CHECK_FALSE(verified.at("ok").as_bool());
  }
}
