// The `torchexam` client end to end, as the README walks through it: start a
// practice exam, see a syntax error of a save in `status --json`, fix it,
// `submit --wait`, `history`, `restore` (the current source is kept), kill -9
// the daemon and get everything back from the next command, `stop`,
// `daemon stop`. The client starts the daemon itself, on a private socket
// and state folder; the test stops it by pid whatever happens.
#include <doctest/doctest.h>

#include "cli_exam_util.hpp"
#include "daemon_util.hpp"
#include "run_cli.hpp"

#include <boost/json.hpp>

#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <sys/wait.h>
#include <sys/file.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <functional>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;
using namespace torchexam;
using torchexam::test::slurp;

namespace {
using test::alive;
using test::Exam;
using test::kCli;
using test::kSource;
using test::kTinyEnv;
using test::released;
using test::task;

}  // namespace

TEST_SUITE("cli") {
  TEST_CASE("the torchexam client: start, a diagnostic, submit --wait, history, restore, kill -9, stop") {
    Exam x;
    fs::create_directories(x.ws);
    // start: lays out the workspace and starts the daemon on first use.
    const json::object started =
        x.json_of({"start", kTinyEnv.string(), "--workspace", x.ws.string(), "--mode", "practice"}, x.root);
    const std::string session(started.at("session").as_string());
    const fs::path dir = x.ws / "fashion_mnist";
    for (const char* f : {"README.md", "solution.cpp", "CMakeLists.txt", "compile_commands.json"})
      CHECK_MESSAGE(fs::exists(dir / f), f);
    const pid_t first = x.daemon_pid();
    REQUIRE(alive(first));

    // A second start on the same, now non-empty, workspace is refused and
    // leaves the files alone.
    const std::string starter = slurp(dir / "solution.cpp");
    const test::CliRun again = x.run({"start", kTinyEnv.string(), "--workspace", x.ws.string()}, x.root);
    CHECK(again.exit_code != 0);
    CHECK(again.err.find("already open") != std::string::npos);
    CHECK(slurp(dir / "solution.cpp") == starter);

    // A save with a syntax error shows in status --json, and a fixed save
    // clears it; neither submits.
    std::ofstream(dir / "solution.cpp", std::ios::app) << "\nint broken( {\n";
    CHECK(test::wait_for(
        [&] { return !task(x.json_of({"status"}), "fashion_mnist").at("diagnostics").as_array().empty(); },
        std::chrono::seconds(120)));
    {  // the plain status shows the diagnostic itself, like a compiler, and '-' for untried tasks
      const test::CliRun plain = x.run({"status"});
      CHECK(plain.out.find("fashion_mnist/solution.cpp:") != std::string::npos);
      CHECK(plain.out.find(": error: ") != std::string::npos);
      const size_t row = plain.out.find("\nfashion_mnist ");
      REQUIRE(row != std::string::npos);
      const std::string line = plain.out.substr(row + 1, plain.out.find('\n', row + 1) - row - 1);
      CHECK(line.find("/5") == std::string::npos);  // nothing was submitted yet: '-', not 0/5
    }
    // A fixed save clears the errors. On a loaded machine its check may stop
    // at its time limit instead, which says so with a line-0 warning: never
    // an error.
    fs::copy_file(kSource / "tests/solutions/small_ok.cpp", dir / "solution.cpp", fs::copy_options::overwrite_existing);
    auto diagnostics = [&] { return task(x.json_of({"status"}), "fashion_mnist").at("diagnostics").as_array(); };
    CHECK(test::wait_for(
        [&] {
          const json::array d = diagnostics();
          return std::none_of(d.begin(), d.end(), [](const json::value& v) {
            const auto& severity = v.at("severity").as_string();
            return severity == "error" || severity == "fatal error";
          });
        },
        std::chrono::seconds(120)));
    for (const json::value& v : diagnostics()) {
      CAPTURE(json::serialize(v));
      CHECK(v.at("line").to_number<int>() == 0);
      CHECK(std::string(v.at("message").as_string()).find("stopped after") != std::string::npos);
    }
    CHECK(task(x.json_of({"status"}), "fashion_mnist").at("submissions").to_number<int>() == 0);

    // submit --wait, from the task's folder: live progress, then the result.
    const test::CliRun sub = x.run({"submit", "fashion_mnist", "--wait"}, dir, 600);
    REQUIRE(sub.exit_code == 0);
    CHECK(sub.err.find("epoch 1/2") != std::string::npos);
    CHECK(sub.err.find("epoch 2/2") != std::string::npos);
    CHECK(sub.out.find("verdict: ok") != std::string::npos);
    CHECK(sub.out.find("score:") != std::string::npos);

    const json::object history = x.json_of({"history", "fashion_mnist"});
    REQUIRE(history.at("submissions").as_array().size() == 1);
    const json::object& graded = history.at("submissions").at(0).as_object();
    const int64_t id = graded.at("submission").to_number<int64_t>();
    CHECK(graded.at("state").as_string() == "finished");
    CHECK(graded.at("verdict").as_string() == "ok");
    const int score = graded.at("score").to_number<int>();
    {
      const json::object st = x.json_of({"status"});
      CHECK(task(st, "fashion_mnist").at("best_score").to_number<int>() == score);
      CHECK(task(st, "fashion_mnist").at("best_submission").to_number<int64_t>() == id);
    }

    // restore: the submitted source comes back, the current one is kept.
    const std::string submitted = slurp(dir / "solution.cpp");
    std::ofstream(dir / "solution.cpp", std::ios::app) << "// an edit after the submission\n";
    const std::string edited = slurp(dir / "solution.cpp");
    const json::object restored = x.json_of({"restore", "fashion_mnist", std::to_string(id)});
    CHECK(slurp(dir / "solution.cpp") == submitted);
    const fs::path kept(std::string(restored.at("previous_copy").as_string()));
    CHECK(slurp(kept) == edited);
    // A wrong task is refused.
    CHECK(x.run({"restore", "regression", std::to_string(id)}).exit_code != 0);

    // kill -9 of the daemon: the next command starts a new one, and the
    // session, its clock and the history are all there.
    REQUIRE(::kill(first, SIGKILL) == 0);
    REQUIRE(test::wait_for([&] { return released(x.root / "state/daemon.lock"); }, std::chrono::seconds(10)));
    const json::object back = x.json_of({"status"});
    CHECK(x.daemon_pid() != first);
    CHECK(back.at("session").as_string() == session);
    const double left = back.at("remaining_s").to_number<double>();
    CHECK(left > 0);
    CHECK(left <= started.at("remaining_s").to_number<double>());
    CHECK(task(back, "fashion_mnist").at("best_score").to_number<int>() == score);
    CHECK(x.json_of({"history", "fashion_mnist"}).at("submissions").as_array().size() == 1);
    CHECK(x.json_of({"daemon", "status"}).at("pid").to_number<int64_t>() == x.daemon_pid());

    // report: the session as one self-contained HTML file in the workspace
    // (no script, styles and charts inline), and the same data as JSON.
    const test::CliRun report = x.run({"report"}, dir);
    REQUIRE_MESSAGE(report.exit_code == 0, report.err);
    const fs::path page = x.ws / "torchexam-report.html";
    REQUIRE(fs::is_regular_file(page));
    const std::string html = slurp(page);
    CHECK(html.find("<svg") != std::string::npos);
    CHECK(html.find("<script") == std::string::npos);
    CHECK(html.find("Content-Security-Policy") != std::string::npos);
    const json::object data = x.json_of({"report"}, dir);
    CHECK(data.at("scope").as_string() == "session");
    REQUIRE(data.at("submissions").as_array().size() == 1);
    const json::object& drawn = data.at("submissions").at(0).as_object();
    CHECK(drawn.at("submission").to_number<int64_t>() == id);
    CHECK(drawn.at("score").to_number<int>() == score);
    REQUIRE_FALSE(drawn.at("training").is_null());
    CHECK(drawn.at("training").at("epochs").as_array().size() == 2);  // small_ok trains two epochs
    CHECK_FALSE(drawn.at("fingerprint").is_null());
    CHECK(data.at("session").at("tasks").at(0).at("best_score").to_number<int>() == score);

    // stop ends the session; daemon stop ends the daemon.
    CHECK(x.json_of({"stop"}).at("state").as_string() == "stopped");
    const test::CliRun refused = x.run({"submit", "fashion_mnist"});
    CHECK(refused.exit_code != 0);
    const pid_t second = x.daemon_pid();
    CHECK(x.run({"daemon", "stop"}).exit_code == 0);
    CHECK(test::wait_for([&] { return !alive(second) && released(x.root / "state/daemon.lock"); },
                         std::chrono::seconds(15)));
    const test::CliRun gone = x.run({"daemon", "status"});
    CHECK(gone.exit_code == 1);
    CHECK(gone.out.find("not running") != std::string::npos);
  }

  // In a real terminal: Ctrl-C while `submit --wait` follows a grading stops
  // the following, never the grading, and says how to pick it up again;
  // `follow` then streams it to its result.
  TEST_CASE("the torchexam client: Ctrl-C during submit --wait, then follow") {
    Exam x;
    fs::create_directories(x.ws);
    x.json_of({"start", kTinyEnv.string(), "--workspace", x.ws.string()}, x.root);
    const fs::path dir = x.ws / "fashion_mnist";
    fs::copy_file(kSource / "tests/solutions/slow_train.cpp", dir / "solution.cpp",
                  fs::copy_options::overwrite_existing);

    int master = -1;
    const pid_t child = ::forkpty(&master, nullptr, nullptr, nullptr);
    REQUIRE(child >= 0);
    if (child == 0) {
      for (const auto& [k, v] : x.env) ::setenv(k.c_str(), v.c_str(), 1);
      if (::chdir(dir.c_str()) != 0) ::_exit(126);
      ::execl(kCli.c_str(), "torchexam", "submit", "fashion_mnist", "--wait", static_cast<char*>(nullptr));
      ::_exit(127);
    }
    std::string screen;
    auto read_until = [&](const std::function<bool()>& done, std::chrono::seconds limit) {
      const auto deadline = std::chrono::steady_clock::now() + limit;
      while (!done() && std::chrono::steady_clock::now() < deadline) {
        pollfd pf{master, POLLIN, 0};
        if (::poll(&pf, 1, 200) <= 0) continue;
        char buf[4096];
        const ssize_t n = ::read(master, buf, sizeof buf);
        if (n <= 0) break;  // the terminal's other side closed: the client exited
        screen.append(buf, static_cast<size_t>(n));
      }
      return done();
    };
    // Training has begun (the live line shows an epoch).
    const bool training = read_until([&] { return screen.find("epoch") != std::string::npos; }, std::chrono::seconds(240));
    INFO("terminal: " << screen);
    REQUIRE(training);
    const char ctrl_c = 0x03;  // the terminal turns it into SIGINT for the client
    REQUIRE(::write(master, &ctrl_c, 1) == 1);
    read_until([&] { return screen.find("torchexam follow") != std::string::npos; }, std::chrono::seconds(20));
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    ::close(master);
    CHECK(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 130);
    CHECK(screen.find("stopped following") != std::string::npos);
    CHECK(screen.find("still being graded") != std::string::npos);

    // The grading went on: `follow` (no id: the running one) shows its end.
    const json::object history = x.json_of({"history", "fashion_mnist"});
    REQUIRE(history.at("submissions").as_array().size() == 1);
    const std::string id = std::to_string(history.at("submissions").at(0).at("submission").to_number<int64_t>());
    CHECK(screen.find("torchexam follow " + id) != std::string::npos);
    const test::CliRun followed = x.run({"follow"}, dir, 300);
    CHECK(followed.exit_code == 0);
    CHECK(followed.out.find("submission " + id + " (fashion_mnist): finished") != std::string::npos);
    CHECK(followed.out.find("verdict: ok") != std::string::npos);

    // Without --wait, submit names the command that follows it; with nothing
    // running, follow says so.
    const test::CliRun queued = x.run({"submit", "fashion_mnist"}, dir);
    CHECK(queued.out.find("torchexam follow") != std::string::npos);
    CHECK(x.run({"follow"}, dir, 300).exit_code == 0);
    const test::CliRun idle = x.run({"follow"}, dir);
    CHECK(idle.exit_code == 1);
    CHECK(idle.err.find("nothing is being graded") != std::string::npos);
  }

  TEST_CASE("the torchexam client says at once why a daemon it started could not listen") {
    Exam x;
    fs::create_directories(x.ws);
    // Other users could enter the socket's folder: the daemon refuses it,
    // and the client must pass that on, not wait 10 s and point at a log.
    fs::permissions(x.root / "run", fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                        fs::perms::others_read | fs::perms::others_exec,
                    fs::perm_options::replace);
    const test::CliRun r = x.run({"status"});
    CHECK(r.exit_code == 3);
    CHECK(r.err.find("torchexamd exited before it listened on") != std::string::npos);
    CHECK(r.err.find("the socket's folder must be private: chmod 700 it") != std::string::npos);
    CHECK(r.err.find("did not come up within 10 s") == std::string::npos);
    // What was stored before is untouched, and the fixed folder works.
    fs::permissions(x.root / "run", fs::perms::owner_all, fs::perm_options::replace);
    CHECK(x.json_of({"daemon", "start"}).at("sessions").to_number<int64_t>() == 0);
  }
}
