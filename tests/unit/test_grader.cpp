// The grading pipeline (grading/grader.hpp) end to end without LibTorch:
// stage -> build -> train -> evaluate -> score, where the build and both
// runners are a fake launcher behind a local backend, and staging and
// scoring use the real fashion_mnist plugin on a 20-image data set.
#include "grading/grader.hpp"

#include "base/hash.hpp"

#include "fake_launcher.hpp"
#include "idx_writer.hpp"  // temp_dir, write_fashion_like
#include "sandbox/predictions.hpp"
#include "sandbox/staged_task.hpp"

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include <signal.h>

#include <fstream>

using namespace torchexam;
using test::FakeLauncher;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const std::vector<uint8_t> kTestLabels = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0};

bool is_runner(const ProcessSpec& spec, const std::string& phase) {
  return spec.exe.filename() == "torchexam-runner" && !spec.args.empty() && spec.args.front() == phase;
}
FakeLauncher::Match runner(const std::string& phase) {
  return [phase](const ProcessSpec& spec) { return is_runner(spec, phase); };
}

void write_status(const ProcessSpec& spec, std::optional<int> code, std::optional<int> signal, bool timed_out = false) {
  json::object exit{{"cpu_s", 0.5}, {"max_rss_kb", 1024}, {"timed_out", timed_out}};
  if (code) exit["code"] = *code;
  if (signal) exit["signal"] = *signal;
  std::ofstream(test::arg_after(spec.args, "--status-file")) << json::serialize(json::object{{"exit", exit}});
}

// Predictions of the task's output spec, one row per test sample: a score
// of 1 for `label(row)` and 0 elsewhere.
void write_predictions(const ProcessSpec& spec, const std::function<int(int64_t)>& label, int64_t extra_rows = 0) {
  const sandbox::TaskSpec task = sandbox::read_task_spec(test::arg_after(spec.args, "--spec"));
  REQUIRE(task.output.dtype == TORCHEXAM_DTYPE_FLOAT32);
  REQUIRE(task.output.ndim == 2);
  const int64_t rows = task.test_samples + extra_rows, classes = task.output.shape[1];
  std::vector<float> data(static_cast<size_t>(rows * classes), 0.f);
  for (int64_t r = 0; r < rows; ++r) data[static_cast<size_t>(r * classes + label(r))] = 1.f;
  torchexam_array a{};
  a.dtype = TORCHEXAM_DTYPE_FLOAT32;
  a.ndim = 2;
  a.shape[0] = rows;
  a.shape[1] = classes;
  a.data = data.data();
  sandbox::write_predictions(test::arg_after(spec.args, "--predictions"), a);
}

struct Observer : GradeObserver {
  std::vector<std::string> phases;
  std::vector<events::Event> events;
  void phase(std::string_view name) override { phases.emplace_back(name); }
  void event(const events::Event& e) override { events.push_back(e); }
};

struct Fixture {
  fs::path dir = test::temp_dir("grader");
  test::FakeHelpers helpers{dir / "bin"};
  FakeLauncher launcher;
  BackendRegistry backends{launcher};
  config::Environment env = config::load_environment(fs::path(TORCHEXAM_SOURCE_DIR) / "tests/environments/tiny");
  Observer observer;
  fs::path source = dir / "solution.cpp";

  Fixture() {
    test::write_fashion_like(dir / "data", 20, kTestLabels);
    env.tasks.at(0).options["data_dir"] = (dir / "data").string();
    std::ofstream(source) << "// the candidate's solution\n";
    test::add_working_compiler(launcher);
    // A training that reports progress and saves its weights.
    launcher.on(runner("train"), {{events::to_json_line(events::Log{"epoch 1 of 1"}),
                                   events::to_json_line(events::Result{Verdict::ok, "trained", ""})},
                                  "",
                                  FakeLauncher::exited(0),
                                  [](const ProcessSpec& spec, FakeLauncher::Reply&) {
                                    std::ofstream(test::arg_after(spec.args, "--checkpoint")) << "weights";
                                    write_status(spec, 0, std::nullopt);
                                  }});
    // An evaluation that gets every label right.
    evaluation([](int64_t row) { return kTestLabels[static_cast<size_t>(row)]; });
  }
  void evaluation(std::function<int(int64_t)> label, int64_t extra_rows = 0) {
    launcher.on(runner("evaluate"), {{events::to_json_line(events::Result{Verdict::ok, "", ""})},
                                     "",
                                     FakeLauncher::exited(0),
                                     [label, extra_rows](const ProcessSpec& spec, FakeLauncher::Reply&) {
                                       write_predictions(spec, label, extra_rows);
                                       write_status(spec, 0, std::nullopt);
                                     }});
  }
  GradeResult grade(const std::string& job = "job") {
    GradeRequest req;
    req.environment = &env;
    req.task = &env.tasks.at(0);
    req.source = source;
    req.display_name = "fashion_mnist/solution.cpp";
    req.job_dir = dir / job;
    req.cache_dir = dir / "cache";
    req.backends = &backends;
    req.launcher = &launcher;
    return torchexam::grade(req, observer);
  }
  size_t runs(const std::string& phase) const { return launcher.commands(runner(phase)).size(); }
};

}  // namespace

TEST_SUITE("grader") {
  TEST_CASE("ok: every phase runs in order, through the registry's backend, and the plugin scores") {
    Fixture f;
    const GradeResult r = f.grade();
    CHECK_MESSAGE(r.verdict == Verdict::ok, r.message);
    CHECK(r.backend == "local");
    REQUIRE(r.metric);
    CHECK(*r.metric == doctest::Approx(1.0));
    CHECK(r.score == 5);
    CHECK(r.message == "accuracy 1.0000 on the hidden test data: score 5/5");
    CHECK(f.observer.phases == std::vector<std::string>{"stage", "build", "train", "evaluate", "score"});
    CHECK(r.log.back() == "epoch 1 of 1");
    CHECK_FALSE(r.stage_cached);
    CHECK_FALSE(r.build_cached);
    CHECK(r.used.cpu_s == 0.5);
    CHECK(r.used.max_rss_kb == 1024);
    CHECK(r.used.peak_memory_bytes == 1024 * 1024);
    CHECK(r.sandbox.limits.memory_bytes == f.env.tasks.at(0).memory_limit_bytes);
    CHECK(r.sandbox.limits.wall_s > 0);
    // The plugin's diagnostics, from the trusted scorer: two of each class, all right.
    REQUIRE(r.task_diagnostics);
    REQUIRE(r.task_diagnostics->classification);
    const auto& confusion = r.task_diagnostics->classification->confusion;
    REQUIRE(confusion.size() == 10);
    for (size_t c = 0; c < 10; ++c) CHECK(confusion[c][c] == 2);

    // Build, train, evaluate: each one command, each phase fed the one before.
    const auto commands = f.launcher.commands();
    std::vector<std::string> order;
    for (const auto& c : commands)
      if (test::is_solution_build(c))
        order.push_back("build");
      else if (is_runner(c, "train"))
        order.push_back("train");
      else if (is_runner(c, "evaluate"))
        order.push_back("evaluate");
    CHECK(order == std::vector<std::string>{"build", "train", "evaluate"});
    const ProcessSpec build = f.launcher.commands(test::is_solution_build).at(0);
    const ProcessSpec train = f.launcher.commands(runner("train")).at(0);
    const ProcessSpec eval = f.launcher.commands(runner("evaluate")).at(0);
    const fs::path library = fs::path(test::arg_after(build.args, "--workdir")) / "libsolution.so";
    CHECK(test::arg_after(train.args, "--solution") == library.string());
    CHECK(test::arg_after(eval.args, "--solution") == library.string());
    CHECK(test::arg_after(eval.args, "--checkpoint") == test::arg_after(train.args, "--checkpoint"));
    CHECK(fs::path(test::arg_after(train.args, "--checkpoint")).parent_path() == f.dir / "job" / "train");
    CHECK(test::arg_after(train.args, "--budget") == "60.000");  // the task's time_budget: 1m
    // The runner sees the staged arrays, never the plugin or the data set.
    for (const auto* c : {&train, &eval})
      for (const auto& a : c->args) CHECK(a.find((f.dir / "data").string()) == std::string::npos);
  }

  TEST_CASE("a second grading of the same source reuses the staged data and the build") {
    Fixture f;
    CHECK(f.grade("one").verdict == Verdict::ok);
    const GradeResult again = f.grade("two");
    CHECK(again.verdict == Verdict::ok);
    CHECK(again.stage_cached);
    CHECK(again.build_cached);
    CHECK(f.launcher.commands(test::is_solution_build).size() == 1);
    CHECK(f.runs("train") == 2);
  }

  TEST_CASE("the score follows the metric through the task's ladder") {
    Fixture f;
    f.evaluation([](int64_t row) { return row < 10 ? kTestLabels[static_cast<size_t>(row)] : 0; });  // 10 + 1 of 20
    const GradeResult r = f.grade();
    CHECK(r.verdict == Verdict::ok);
    REQUIRE(r.metric);
    CHECK(*r.metric == doctest::Approx(11.0 / 20));
    CHECK(r.score == 3);  // ladder 0.30 0.40 0.50 0.60 0.70
  }

  TEST_CASE("compile_error: the first diagnostic, and no runner") {
    Fixture f;
    f.launcher.on(test::is_solution_build,
                  {{}, "", FakeLauncher::exited(1), [](const ProcessSpec& spec, FakeLauncher::Reply& r) {
                     r.stderr_text = test::arg_after(spec.args, "-shared") + ":2:3: error: expected ';'\n";
                   }});
    const GradeResult r = f.grade();
    CHECK(r.verdict == Verdict::compile_error);
    CHECK(r.message == "fashion_mnist/solution.cpp:2:3: expected ';'");
    CHECK(r.diagnostics.size() == 1);
    CHECK(f.runs("train") == 0);
    CHECK(f.observer.phases == std::vector<std::string>{"stage", "build"});
  }

  TEST_CASE("a training that fails is the verdict; nothing is evaluated") {
    Fixture f;
    f.launcher.on(runner("train"), {{events::to_json_line(events::Result{Verdict::runtime_error, "boom", ""})},
                                    "",
                                    FakeLauncher::exited(1),
                                    [](const ProcessSpec& spec, FakeLauncher::Reply&) { write_status(spec, 1, {}); }});
    const GradeResult r = f.grade();
    CHECK(r.verdict == Verdict::runtime_error);
    CHECK(r.message == "boom");
    CHECK(f.runs("evaluate") == 0);
  }

  TEST_CASE("a training out of time with a checkpoint is graded on it, under its verdict") {
    Fixture f;
    f.launcher.on(runner("train"), {{}, "", FakeLauncher::exited(0), [](const ProcessSpec& spec, FakeLauncher::Reply&) {
                                      std::ofstream(test::arg_after(spec.args, "--checkpoint")) << "epoch 3";
                                      write_status(spec, std::nullopt, SIGKILL, /*timed_out=*/true);
                                    }});
    const GradeResult r = f.grade();
    CHECK(r.verdict == Verdict::timeout);
    CHECK(r.score == 5);
    CHECK(r.message.find("graded the last checkpoint the solution saved") != std::string::npos);
  }

  TEST_CASE("predictions of the wrong shape are a contract error, checked before the plugin scores") {
    Fixture f;
    f.evaluation([](int64_t) { return 0; }, /*extra_rows=*/1);
    const GradeResult r = f.grade();
    CHECK(r.verdict == Verdict::contract);
    CHECK_FALSE(r.metric);
  }

  TEST_CASE("internal_error: the runner's trusted report of the harness's fault, or a missing runner") {
    Fixture f;
    SUBCASE("harness fault") {
      f.launcher.on(runner("evaluate"),
                    {{}, "", FakeLauncher::exited(1), [](const ProcessSpec& spec, FakeLauncher::Reply&) {
                       std::ofstream(test::arg_after(spec.args, "--status-file"))
                           << R"({"harness_fault": "cannot open the inputs"})";
                     }});
      const GradeResult r = f.grade();
      CHECK(r.verdict == Verdict::internal_error);
      CHECK(r.message == "evaluation: the harness failed to set up evaluation: cannot open the inputs");
    }
    SUBCASE("the runner cannot start") {
      f.launcher.on(runner("train"), {{}, "", FakeLauncher::exited(0), [](const ProcessSpec&, FakeLauncher::Reply&) {
                                        throw std::runtime_error("cannot start torchexam-runner: gone");
                                      }});
      const GradeResult r = f.grade();
      CHECK(r.verdict == Verdict::internal_error);
      CHECK(r.message == "cannot start torchexam-runner: gone");
    }
  }

  TEST_CASE("grade() needs a backend or a registry from the caller, for a local environment too") {
    Fixture f;
    GradeRequest req;
    req.environment = &f.env;
    req.task = &f.env.tasks.at(0);
    req.source = f.source;
    req.job_dir = f.dir / "job";
    req.cache_dir = f.dir / "cache";
    req.launcher = &f.launcher;
    GradeResult r = torchexam::grade(req, f.observer);
    CHECK(r.verdict == Verdict::internal_error);
    CHECK(r.message.find("no backend and no backend registry") != std::string::npos);
    CHECK(r.message.find("GradeRequest::backends") != std::string::npos);
    CHECK(f.launcher.commands().empty());  // nothing ran
    f.env.grading.backend = config::Grading::Backend::slurm;
    r = torchexam::grade(req, f.observer);
    CHECK(r.verdict == Verdict::internal_error);
    CHECK(r.message.find("no backend and no backend registry") != std::string::npos);
    req.backend = &f.backends.local();  // torchexam grade --local
    r = torchexam::grade(req, f.observer);
    CHECK(r.verdict == Verdict::ok);
    CHECK(r.backend == "local");
  }
  TEST_CASE("the fingerprint: the runner's first platform report, the compiler, the plugin, the source, the task") {
    Fixture f;
    events::Platform mine;
    mine.libtorch_version = "1.13.0";
    mine.parallel = "OpenMP";
    mine.blas_path = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3";
    mine.blas_version = "0.3.21";
    mine.threads = 2;
    mine.interop_threads = 1;
    mine.deterministic = true;
    events::Platform forged = mine;  // written by candidate code, after the runner's own
    forged.blas_path = "/fake/libblas.so.3";
    forged.threads = 64;
    f.launcher.on(runner("train"), {{events::to_json_line(mine), events::to_json_line(forged),
                                     events::to_json_line(events::Result{Verdict::ok, "trained", ""})},
                                    "",
                                    FakeLauncher::exited(0),
                                    [](const ProcessSpec& spec, FakeLauncher::Reply&) {
                                      std::ofstream(test::arg_after(spec.args, "--checkpoint")) << "weights";
                                      write_status(spec, 0, std::nullopt);
                                    }});
    const GradeResult r = f.grade();
    CHECK_MESSAGE(r.verdict == Verdict::ok, r.message);
    REQUIRE(r.fingerprint);
    const Fingerprint& fp = *r.fingerprint;
    CHECK(fp.blas == BlasLibrary{mine.blas_path, "0.3.21"});
    CHECK(fp.threads == 2);
    CHECK(fp.deterministic);
    CHECK(fp.libtorch.version == "1.13.0");
    CHECK(fp.compiler.id == "GNU");  // "c++ (Fake 1.0) 1.0.0"
    CHECK(fp.compiler.version == "1.0.0");
    CHECK(fp.source_sha256 == sha256_hex(read_file(f.source)));
    CHECK(fp.plugin.sha256.size() == 64);
    CHECK(fp.seed == 7);
    CHECK(fp.task.ladder == std::vector<double>{0.30, 0.40, 0.50, 0.60, 0.70});
    // Both runners were told to run deterministically.
    for (const char* phase : {"train", "evaluate"})
      CHECK(test::arg_after(f.launcher.commands(runner(phase)).at(0).args, "--deterministic") == "true");
  }

  TEST_CASE("a grading that stops at the build still has a fingerprint, without the runner's part") {
    Fixture f;
    f.launcher.on(test::is_solution_build, {{}, "", FakeLauncher::exited(1), {}});
    const GradeResult r = f.grade();
    CHECK(r.verdict == Verdict::compile_error);
    REQUIRE(r.fingerprint);
    CHECK(r.fingerprint->compiler.id == "GNU");
    CHECK(r.fingerprint->blas.path.empty());
    CHECK(r.fingerprint->threads == 2);  // as asked: the environment's
  }
}
