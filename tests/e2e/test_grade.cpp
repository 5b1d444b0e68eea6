// End to end: the torchexam CLI grades real solutions on reduced data
// (--limit), through the compiler, the sandboxed runner and the scorer.
// Each case is its own CTest entry (label e2e); the "slow" cases grade on the
// full data set.
#include <doctest/doctest.h>

#include "process.hpp"
#include "run_cli.hpp"
#include "../test_util.hpp"
#include "../unit/idx_writer.hpp"

#include <boost/json.hpp>

#include <dirent.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const fs::path kSource = TORCHEXAM_SOURCE_DIR;
const fs::path kCli = TORCHEXAM_CLI;

struct Graded {
  json::object result;
  int exit_code = -1;
  std::string stderr_text;
};

Graded grade(const fs::path& solution, std::vector<std::string> extra, const std::string& task = "fashion_mnist") {
  std::vector<std::string> args = {"grade", (kSource / "environments/practice").string(), task, solution.string(),
                                   "--json"};
  args.insert(args.end(), extra.begin(), extra.end());
  const torchexam::test::CliRun run = torchexam::test::run_cli(kCli, std::move(args));
  const std::string& out = run.out;
  Graded g;
  g.exit_code = run.exit_code;
  g.stderr_text = run.err;
  json::error_code ec;
  auto v = json::parse(out, ec);
  INFO("stdout: " << out);
  INFO("stderr: " << g.stderr_text);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  g.result = v.get_object();
  return g;
}

std::string str(const json::object& o, const char* key) { return std::string(o.at(key).as_string()); }

fs::path solution(const char* name) { return kSource / "tests/solutions" / name; }

std::string test_task() {
  const char* t = std::getenv("TORCHEXAM_TEST_TASK");
  REQUIRE_MESSAGE(t, "set TORCHEXAM_TEST_TASK to the task to grade");
  return t;
}

// Processes whose command name is `comm`.
std::vector<int> processes_named(const std::string& comm) {
  std::vector<int> pids;
  DIR* d = opendir("/proc");
  while (dirent* e = d ? readdir(d) : nullptr) {
    const int pid = std::atoi(e->d_name);
    if (pid <= 0) continue;
    std::ifstream f(std::string("/proc/") + e->d_name + "/comm");
    std::string name;
    if (std::getline(f, name) && name == comm) pids.push_back(pid);
  }
  if (d) closedir(d);
  return pids;
}

using torchexam::test::wait_for;

}  // namespace

TEST_SUITE("e2e") {
  TEST_CASE("a small correct solution is graded") {
    auto g = grade(solution("small_ok.cpp"), {"--limit", "2000", "--budget", "60"});
    CHECK(g.exit_code == 0);
    CHECK(str(g.result, "verdict") == "ok");
    CHECK(str(g.result, "metric_name") == "accuracy");
    const double acc = g.result.at("metric").as_double();
    CHECK(acc > 0.5);  // a 64-unit MLP learns much more than chance (0.1) from 2000 images
    const auto score = g.result.at("score").as_int64();
    CHECK(score >= 0);
    CHECK(score <= 5);
    CHECK(g.result.at("timings").as_object().at("train_s").as_double() > 0);
    CHECK(g.stderr_text.find("samples/s") != std::string::npos);  // the progress line

    SUBCASE("the unchanged source is not rebuilt") {
      auto again = grade(solution("small_ok.cpp"), {"--limit", "2000", "--budget", "60"});
      CHECK(again.result.at("build_cached").as_bool());
      CHECK(str(again.result, "verdict") == "ok");
    }
  }

  TEST_CASE("a solution that throws gets runtime_error with its message") {
    auto g = grade(solution("throws.cpp"), {"--limit", "200", "--budget", "30"});
    CHECK(g.exit_code == 0);
    CHECK(str(g.result, "verdict") == "runtime_error");
    CHECK(str(g.result, "message").find("deliberate failure: no optimizer configured") != std::string::npos);
    CHECK(g.result.at("score").as_int64() == 0);
  }

  TEST_CASE("a LibTorch error is runtime_error with LibTorch's message and no backtrace") {
    auto g = grade(solution("torch_error.cpp"), {"--limit", "200", "--budget", "30"});
    CHECK(str(g.result, "verdict") == "runtime_error");
    const auto msg = str(g.result, "message");
    CHECK(msg.find("cannot be multiplied") != std::string::npos);
    CHECK(msg.find("Exception raised from") == std::string::npos);
  }

  TEST_CASE("a wrong output shape gets contract with expected and actual") {
    auto g = grade(solution("wrong_shape.cpp"), {"--limit", "200", "--budget", "30"});
    CHECK(str(g.result, "verdict") == "contract");
    const auto msg = str(g.result, "message");
    CHECK(msg.find("[2, 5] Float") != std::string::npos);
    CHECK(msg.find("[N, 10] float32") != std::string::npos);
    CHECK(str(g.result, "detail").find("expected [N, 10] float32") != std::string::npos);
  }

  TEST_CASE("an endless loop times out within budget + grace and leaves no process behind") {
    REQUIRE(processes_named("texam_orphan").empty());
    const double budget = 3;
    auto g = grade(solution("endless.cpp"), {"--limit", "200", "--budget", "3"});
    CHECK(str(g.result, "verdict") == "timeout");
    const double train_s = g.result.at("timings").as_object().at("train_s").as_double();
    CHECK(train_s >= budget);
    CHECK(train_s < budget + 5 /* grace */ + 3 /* drain and slack */);
    // The setsid() child must be gone: the PID namespace died with the runner.
    bool gone = wait_for([] { return processes_named("texam_orphan").empty(); }, std::chrono::seconds(5));
    if (!gone)
      for (int pid : processes_named("texam_orphan")) kill(pid, SIGKILL);
    CHECK(gone);
  }

  TEST_CASE("a child the solution leaves behind is killed, in both containment modes") {
    for (const char* mode : {"", "process_group"}) {
      CAPTURE(mode);
      setenv("TORCHEXAM_CONTAINMENT", mode, 1);
      REQUIRE(processes_named("texam_child").empty());
      auto g = grade(solution("leaves_child.cpp"), {"--limit", "500", "--budget", "30"});
      CHECK(str(g.result, "verdict") == "ok");
      const std::string expected = *mode ? "sandbox: process_group" : "sandbox: pid_namespace";
      bool logged = false;
      for (const auto& l : g.result.at("log").as_array()) logged = logged || std::string(l.as_string()).rfind(expected, 0) == 0;
      CHECK(logged);
      bool gone = wait_for([] { return processes_named("texam_child").empty(); }, std::chrono::seconds(5));
      if (!gone)
        for (int pid : processes_named("texam_child")) kill(pid, SIGKILL);
      CHECK(gone);
    }
    unsetenv("TORCHEXAM_CONTAINMENT");
  }

  TEST_CASE("a solution over the task's memory limit gets memory_limit") {
    auto g = grade(solution("memory_hog.cpp"), {"--limit", "200", "--budget", "30"});
    CHECK(str(g.result, "verdict") == "memory_limit");
    CHECK(str(g.result, "message").find("out of memory while training") != std::string::npos);
  }

  TEST_CASE("candidate code inherits no descriptor but the event pipe") {
    auto g = grade(solution("fd_probe.cpp"), {"--limit", "200", "--budget", "30"});
    CHECK(str(g.result, "verdict") == "ok");
    int fds = 0;
    for (const auto& l : g.result.at("log").as_array()) {
      const std::string line(l.as_string());
      if (line.rfind("fd ", 0) != 0) continue;
      ++fds;
      CAPTURE(line);
      CHECK(line.find("pipe:") != std::string::npos);  // the event pipe, and only it
    }
    CHECK(fds == 1);
  }

  TEST_CASE("a syntax error gets compile_error on the right line") {
    auto g = grade(solution("syntax_error.cpp"), {"--limit", "200"});
    CHECK(g.exit_code == 0);
    CHECK(str(g.result, "verdict") == "compile_error");
    const auto& diags = g.result.at("diagnostics").as_array();
    REQUIRE_FALSE(diags.empty());
    bool found = false;
    for (const auto& d : diags) {
      const auto& o = d.as_object();
      if (str(o, "severity") == "error" && o.at("line").as_int64() == 10 &&
          str(o, "file") == solution("syntax_error.cpp").string())
        found = true;
    }
    CHECK(found);
    CHECK(str(g.result, "message").find("syntax_error.cpp:10:") != std::string::npos);
  }

  TEST_CASE("a TorchScript model is evaluated as is, and its contract checked") {
    // A tiny data set whose images encode their labels, and TorchScript
    // models written by tests/tools/make_torchscript.
    const fs::path dir = fs::temp_directory_path() / ("torchexam-e2e-ts-" + std::to_string(getpid()));
    torchexam::test::write_fashion_like(dir / "data", 50, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7});
    auto make = [&](const char* kind) {
      torchexam::ProcessSpec spec;
      spec.exe = TORCHEXAM_MAKE_TORCHSCRIPT;
      spec.args = {kind, (dir / (std::string(kind) + ".pt")).string()};
      spec.stderr_file = dir / "make.stderr";
      REQUIRE(torchexam::run_process(spec, [](std::string_view) {}).exit_code == 0);
      return dir / (std::string(kind) + ".pt");
    };
    const std::string data = "data_dir=" + (dir / "data").string();

    auto good = grade(make("good"), {"--option", data});
    CHECK(str(good.result, "verdict") == "ok");
    CHECK(good.result.at("metric").as_double() == doctest::Approx(1.0));
    CHECK(good.result.at("score").as_int64() == 5);
    CHECK(good.result.at("timings").as_object().at("build_s").as_double() == 0);  // no build, no training
    CHECK(good.result.at("timings").as_object().at("train_s").as_double() == 0);

    auto wrong = grade(make("wrong"), {"--option", data});
    CHECK(str(wrong.result, "verdict") == "contract");
    CHECK(str(wrong.result, "message").find("it returned [13, 7] Float") != std::string::npos);

    auto tuple = grade(make("tuple"), {"--option", data});
    CHECK(str(tuple.result, "verdict") == "contract");
    CHECK(str(tuple.result, "message").find("not a tensor") != std::string::npos);
    fs::remove_all(dir);
  }

  TEST_CASE("an unknown task is a usage error with the list of tasks") {
    torchexam::ProcessSpec spec;
    spec.exe = kCli;
    spec.args = {"grade", (kSource / "environments/practice").string(), "fashion", solution("small_ok.cpp").string()};
    spec.stderr_file = fs::temp_directory_path() / ("torchexam-e2e-usage-" + std::to_string(getpid()));
    auto r = torchexam::run_process(spec, [](std::string_view) {});
    std::ifstream err(spec.stderr_file);
    std::string text(std::istreambuf_iterator<char>(err), {});
    fs::remove(spec.stderr_file);
    CHECK(r.exit_code == 2);
    CHECK(text.find("no task 'fashion'") != std::string::npos);
    CHECK(text.find("fashion_mnist") != std::string::npos);
  }
}

// The full-data cases run once per task: CTest sets TORCHEXAM_TEST_TASK.
TEST_SUITE("slow") {
  TEST_CASE("the task's reference scores 5/5 on the full data, the same twice") {
    const std::string task = test_task();
    auto g = grade(kSource / "environments/practice" / task / "reference.cpp", {}, task);
    MESSAGE(task << " reference: " << json::serialize(g.result));
    CHECK(str(g.result, "verdict") == "ok");
    CHECK(g.result.at("score").as_int64() == 5);
    auto again = grade(kSource / "environments/practice" / task / "reference.cpp", {}, task);
    CHECK(again.result.at("score").as_int64() == g.result.at("score").as_int64());
    CHECK(again.result.at("metric").as_double() == g.result.at("metric").as_double());  // seeded: identical
  }

  TEST_CASE("the task's starter scores at most 1 on the full data") {
    const std::string task = test_task();
    auto g = grade(kSource / "environments/practice" / task / "starter.cpp", {}, task);
    MESSAGE(task << " starter: " << json::serialize(g.result));
    CHECK(str(g.result, "verdict") == "ok");
    CHECK(g.result.at("score").as_int64() <= 1);
  }

  TEST_CASE("the task's weak solution lands in the middle of the ladder") {
    const std::string task = test_task();
    auto g = grade(solution((task == "fashion_mnist" ? std::string("mlp") : task + "_weak").append(".cpp").c_str()), {},
                   task);
    MESSAGE(task << " weak: " << json::serialize(g.result));
    CHECK(str(g.result, "verdict") == "ok");
    CHECK(g.result.at("score").as_int64() >= 2);
    CHECK(g.result.at("score").as_int64() <= 4);
  }
}
