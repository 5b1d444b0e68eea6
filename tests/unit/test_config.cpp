// Tests for the YAML loader (config.hpp): each test writes an environment
// into its own temporary folder and checks the model or the diagnostics,
// down to file, line and column.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "config/config.hpp"

namespace fs = std::filesystem;
using namespace torchexam::config;

namespace {

// A fresh folder under the system's temporary directory, removed at the end.
class TempDir {
 public:
  TempDir() {
    std::random_device random;
    path_ = fs::temp_directory_path() /
            ("torchexam_config_test_" + std::to_string(random()) + "_" + std::to_string(random()));
    fs::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const fs::path& path() const { return path_; }

  void write(const fs::path& relative, const std::string& text) const {
    const fs::path file = path_ / relative;
    fs::create_directories(file.parent_path());
    std::ofstream(file) << text;
  }

 private:
  fs::path path_;
};

const std::string kEnvironment =
    "name: practice\n"
    "title: Practice exam\n"
    "duration: 5h\n"
    "pass_mark: 3\n"
    "tasks: [mnist]\n";

const std::string kTask =
    "title: MNIST digits\n"
    "statement: README.md\n"
    "plugin: mnist\n"
    "metric: accuracy\n"
    "ladder: [0.80, 0.84, 0.87, 0.89, 0.91]\n"
    "time_budget: 10m\n"
    "memory_limit: 4GiB\n"
    "starter: starter.cpp\n";

// An environment "env" with one task "mnist"; the YAML texts may be replaced.
struct Fixture {
  TempDir tmp;
  fs::path dir = tmp.path() / "env";

  explicit Fixture(const std::string& environment = kEnvironment, const std::string& task = kTask) {
    tmp.write("env/environment.yaml", environment);
    tmp.write("env/mnist/task.yaml", task);
    tmp.write("env/mnist/README.md", "# MNIST\n");
    tmp.write("env/mnist/starter.cpp", "// starter\n");
  }
  std::string environment_file() const { return (dir / "environment.yaml").string(); }
  std::string task_file() const { return (dir / "mnist" / "task.yaml").string(); }
};

// The diagnostics load_environment(dir) throws; fails the test if it loads.
std::vector<Diagnostic> errors_of(const fs::path& dir) {
  try {
    load_environment(dir);
  } catch (const ConfigError& e) {
    return e.diagnostics();
  }
  FAIL("load_environment() accepted an invalid environment");
  return {};
}

// The first diagnostic whose message contains `text`; fails when none does.
Diagnostic find(const std::vector<Diagnostic>& diagnostics, const std::string& text) {
  for (const Diagnostic& d : diagnostics) {
    if (d.message.find(text) != std::string::npos) return d;
  }
  std::string all;
  for (const Diagnostic& d : diagnostics) all += "\n  " + d.where.str() + ": " + d.message;
  FAIL("no diagnostic mentions '" << text << "'; got:" << all);
  return {};
}

}  // namespace

TEST_SUITE("config") {
  TEST_CASE("a valid environment loads with every field") {
    Fixture f(
        "name: practice\n"
        "title: Practice exam\n"
        "duration: 1h30m\n"
        "pass_mark: 7\n"
        "threads: 4\n"
        "compiler:\n"
        "  flags: [-O3, -march=native]\n"
        "  timeout: 90s\n"
        "tasks: [mnist, cifar]\n",
        "title: MNIST digits\n"
        "statement: README.md\n"
        "plugin: mnist\n"
        "metric: loss\n"
        "ladder: [0.9, 0.7, 0.5, 0.3, 0.1]\n"
        "time_budget: 2m30s\n"
        "memory_limit: 512MiB\n"
        "seed: 42\n"
        "starter: starter.cpp\n"
        "reference: reference.cpp\n"
        "options: {epochs: 3, subset: train}\n");
    f.tmp.write("env/mnist/reference.cpp", "// reference\n");
    f.tmp.write("env/cifar/task.yaml", kTask);
    f.tmp.write("env/cifar/README.md", "# CIFAR\n");
    f.tmp.write("env/cifar/starter.cpp", "// starter\n");

    const Environment env = load_environment(f.dir);
    CHECK(env.name == "practice");
    CHECK(env.title == "Practice exam");
    CHECK(env.dir.is_absolute());
    CHECK(fs::equivalent(env.dir, f.dir));
    CHECK(env.duration_s == 5400);
    CHECK(env.pass_mark == 7);
    CHECK(env.threads == 4);
    CHECK(env.compiler_flags == std::vector<std::string>{"-O3", "-march=native"});
    CHECK(env.compile_timeout_s == 90);
    REQUIRE(env.tasks.size() == 2);

    const TaskConfig& task = env.tasks[0];
    CHECK(task.id == "mnist");
    CHECK(task.dir == env.dir / "mnist");
    CHECK(task.title == "MNIST digits");
    CHECK(task.statement == env.dir / "mnist" / "README.md");
    CHECK(task.statement.is_absolute());
    CHECK(task.plugin == "mnist");
    CHECK(task.plugin_mark.str() == f.task_file() + ":3:9");
    CHECK(task.metric == "loss");
    CHECK(task.metric_mark.str() == f.task_file() + ":4:9");
    CHECK(task.ladder.thresholds == std::vector<double>{0.9, 0.7, 0.5, 0.3, 0.1});
    CHECK_FALSE(task.ladder.higher_is_better);
    CHECK(task.ladder.where.str() == f.task_file() + ":5:9");
    CHECK(task.time_budget_s == 150);
    CHECK(task.memory_limit_bytes == 512ull << 20);
    CHECK(task.seed == 42);
    CHECK(task.starter == env.dir / "mnist" / "starter.cpp");
    CHECK(task.reference == env.dir / "mnist" / "reference.cpp");
    CHECK(task.options == std::map<std::string, std::string>{{"epochs", "3"}, {"subset", "train"}});

    CHECK(env.find_task("cifar") == &env.tasks[1]);
    CHECK(env.find_task("imagenet") == nullptr);
  }

  TEST_CASE("optional keys take their defaults") {
    Fixture f;
    const Environment env = load_environment(f.dir);
    CHECK(env.threads == 2);
    CHECK(env.compiler_flags == std::vector<std::string>{"-O1"});
    CHECK(env.compile_timeout_s == 120);
    REQUIRE(env.tasks.size() == 1);
    CHECK(env.tasks[0].seed == 0);
    CHECK(env.tasks[0].reference.empty());
    CHECK(env.tasks[0].options.empty());
    CHECK(env.tasks[0].ladder.higher_is_better);
  }

  TEST_CASE("grading: local by default; slurm with its options") {
    CHECK(load_environment(Fixture().dir).grading.backend == Grading::Backend::local);
    Fixture f(kEnvironment +
              "grading:\n"
              "  backend: slurm\n"
              "  slurm:\n"
              "    shared_dir: /shared/te\n"
              "    partition: exam\n"
              "    user: grader\n"
              "    poll: 2s\n"
              "    max_jobs: 500\n"
              "    sbatch_args: [--qos=exam]\n");
    const Environment env = load_environment(f.dir);
    CHECK(env.grading.backend == Grading::Backend::slurm);
    CHECK(env.grading.slurm.shared_dir == "/shared/te");
    CHECK(env.grading.slurm.partition == "exam");
    CHECK(env.grading.slurm.user == "grader");
    CHECK(env.grading.slurm.poll_s == 2);
    CHECK(env.grading.slurm.max_jobs == 500);
    CHECK(env.grading.slurm.sbatch_args == std::vector<std::string>{"--qos=exam"});
  }

  TEST_CASE("grading: slurm needs an absolute shared_dir, and unknown values say what is allowed") {
    Fixture missing(kEnvironment + "grading:\n  backend: slurm\n");
    CHECK(find(errors_of(missing.dir), "backend 'slurm' needs grading.slurm.shared_dir").where.line == 7);
    Fixture relative(kEnvironment + "grading:\n  backend: slurm\n  slurm: {shared_dir: shared}\n");
    CHECK(find(errors_of(relative.dir), "key 'shared_dir' must be an absolute path").where.line == 8);
    Fixture wrong(kEnvironment + "grading:\n  backend: slurn\n  slurm: {partion: exam}\n");
    const auto errors = errors_of(wrong.dir);
    CHECK(find(errors, "key 'backend' must be one of local, slurm, got 'slurn'").message.find("did you mean 'slurm'") !=
          std::string::npos);
    CHECK(find(errors, "unknown key 'partion'").message.find("did you mean 'partition'") != std::string::npos);
  }

  TEST_CASE("report.diagnostics: unset by default (the session's mode decides), full or metric_only") {
    CHECK_FALSE(load_environment(Fixture().dir).report.diagnostics);
    CHECK(load_environment(Fixture(kEnvironment + "report: {diagnostics: full}\n").dir).report.diagnostics ==
          Report::Diagnostics::full);
    CHECK(load_environment(Fixture(kEnvironment + "report:\n  diagnostics: metric_only\n").dir).report.diagnostics ==
          Report::Diagnostics::metric_only);
    Fixture hidden(kEnvironment + "report:\n  diagnostics: hidden\n");
    const Diagnostic d = find(errors_of(hidden.dir), "key 'diagnostics' must be one of full, metric_only, got 'hidden'");
    CHECK(d.message.find("did you mean 'metric_only'?") != std::string::npos);
    CHECK(d.where.str() == hidden.environment_file() + ":7:16");
    Fixture key(kEnvironment + "report: {diagnostic: full}\n");
    CHECK(find(errors_of(key.dir), "unknown key 'diagnostic' in 'report'").message.find("did you mean 'diagnostics'?") !=
          std::string::npos);
    Fixture top(kEnvironment + "reports: {diagnostics: full}\n");
    CHECK(find(errors_of(top.dir), "unknown key 'reports' in environment.yaml").message.find("did you mean 'report'?") !=
          std::string::npos);
  }

  TEST_CASE("grading.repeat_score: live by default; live, best or median, and what else is allowed") {
    CHECK(load_environment(Fixture().dir).grading.repeat_score == Grading::RepeatScore::live);
    CHECK(load_environment(Fixture(kEnvironment + "grading: {repeat_score: median}\n").dir).grading.repeat_score ==
          Grading::RepeatScore::median);
    CHECK(load_environment(Fixture(kEnvironment + "grading: {repeat_score: best}\n").dir).grading.repeat_score ==
          Grading::RepeatScore::best);
    Fixture wrong(kEnvironment + "grading:\n  repeat_score: mean\n");
    const Diagnostic d = find(errors_of(wrong.dir), "key 'repeat_score' must be one of live, best, median, got 'mean'");
    CHECK(d.where.line == 7);
  }

  TEST_CASE("compiler.std: c++17 by default, one of the standards, with line, column and a suggestion") {
    CHECK(load_environment(Fixture().dir).compiler_std == "c++17");
    CHECK(load_environment(Fixture(kEnvironment + "compiler: {std: gnu++20}\n").dir).compiler_std == "gnu++20");
    Fixture typo(kEnvironment + "compiler:\n  std: c++7\n");
    const Diagnostic d = find(errors_of(typo.dir), "key 'std' must be one of c++17, c++20, gnu++17, gnu++20, got 'c++7'");
    CHECK(d.message.find("did you mean 'c++17'?") != std::string::npos);
    CHECK(d.where.str() == typo.environment_file() + ":7:8");
    Fixture number(kEnvironment + "compiler:\n  std: 20\n");
    CHECK(find(errors_of(number.dir), "got '20'").message.find("did you mean 'c++20'?") != std::string::npos);
    Fixture key(kEnvironment + "compiler:\n  standard: c++17\n");
    CHECK(find(errors_of(key.dir), "unknown key 'standard' in 'compiler'").message.find("did you mean 'std'?") !=
          std::string::npos);
  }

  TEST_CASE("marks use the folder as given, not canonicalised") {
    Fixture f(kEnvironment + "colour: blue\n");
    const fs::path given = f.dir / "." / ".." / "env";
    const Diagnostic d = find(errors_of(given), "unknown key 'colour'");
    CHECK(d.where.file == (given / "environment.yaml").string());
  }

  TEST_CASE("an unknown key gives its position and a suggestion") {
    Fixture f(kEnvironment,
              "title: MNIST digits\n"
              "statement: README.md\n"
              "plugin: mnist\n"
              "metric: accuracy\n"
              "  # the scores\n"
              "thresholds: [0.80, 0.84, 0.87, 0.89, 0.91]\n"
              "time_budget: 10m\n"
              "memory_limit: 4GiB\n"
              "starter: starter.cpp\n"
              "reference_file: reference.cpp\n"
              "colour: blue\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);

    const Diagnostic thresholds = find(errors, "unknown key 'thresholds' in task.yaml; did you mean 'ladder'?");
    CHECK(thresholds.where.str() == f.task_file() + ":6:1");

    const Diagnostic typo = find(errors, "unknown key 'reference_file'");
    CHECK(typo.where.str() == f.task_file() + ":10:1");
    CHECK(typo.message.find("did you mean 'reference'?") == std::string::npos);  // too far: 5 edits

    const Diagnostic far = find(errors, "unknown key 'colour' in task.yaml; known keys: title, statement");
    CHECK(far.message.find("did you mean") == std::string::npos);
    // ... and the ladder it replaced is missing.
    find(errors, "missing required key 'ladder'");
  }

  TEST_CASE("a misspelt key is matched by edit distance") {
    Fixture f(
        "name: practice\n"
        "title: Practice exam\n"
        "duration: 5h\n"
        "pass_mark: 3\n"
        "Threads: 2\n"
        "compiler:\n"
        "  flag: [-O2]\n"
        "tasks: [mnist]\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    CHECK(find(errors, "unknown key 'Threads' in environment.yaml; did you mean 'threads'?").where.str() ==
          f.environment_file() + ":5:1");
    CHECK(find(errors, "unknown key 'flag' in 'compiler'; did you mean 'flags'?").where.str() ==
          f.environment_file() + ":7:3");
  }

  TEST_CASE("a missing required key names the file, line and key") {
    Fixture f(kEnvironment,
              "# the task\n"
              "title: MNIST digits\n"
              "statement: README.md\n"
              "metric: accuracy\n"
              "ladder: [0.80, 0.84, 0.87, 0.89, 0.91]\n"
              "time_budget: 10m\n"
              "memory_limit: 4GiB\n"
              "starter: starter.cpp\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].message == "missing required key 'plugin'");
    CHECK(errors[0].where.str() == f.task_file() + ":2:1");
  }

  TEST_CASE("a wrong type names the key, the line and what was written") {
    Fixture f(
        "name: practice\n"
        "title: [Practice, exam]\n"
        "duration: 5h\n"
        "pass_mark: 3\n"
        "threads: two\n"
        "tasks: mnist\n",
        kTask + "seed: -1\noptions: [a, b]\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    CHECK(find(errors, "key 'threads' must be an integer, got 'two'").where.str() == f.environment_file() + ":5:10");
    CHECK(find(errors, "key 'title' must be a string, got a list").where.str() == f.environment_file() + ":2:8");
    CHECK(find(errors, "key 'tasks' must be a list of strings, got 'mnist'").where.line == 6);
    // The task list could not be read, so the task is not loaded either.
    for (const Diagnostic& d : errors) CHECK(d.where.file == f.environment_file());
  }

  TEST_CASE("wrong types and ranges in task.yaml") {
    Fixture f(kEnvironment,
              "title: MNIST digits\n"
              "statement: README.md\n"
              "plugin: mnist\n"
              "metric:\n"
              "ladder: [0.80, 0.84, high, 0.89, 0.91]\n"
              "time_budget: soon\n"
              "memory_limit: 4GB\n"
              "seed: -1\n"
              "starter: starter.cpp\n"
              "options: {epochs: [1, 2]}\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    CHECK(find(errors, "key 'metric' must be a string, got nothing").where.str() == f.task_file() + ":4:1");
    CHECK(find(errors, "ladder entry 3 must be a number, got 'high'").where.str() == f.task_file() + ":5:22");
    const Diagnostic budget = find(errors, "key 'time_budget' must be a duration, got 'soon'");
    CHECK(budget.message.find("1h30m") != std::string::npos);
    CHECK(budget.where.line == 6);
    CHECK(find(errors, "key 'memory_limit' must be a size, got '4GB'").message.find("write 4GiB") !=
          std::string::npos);
    CHECK(find(errors, "key 'seed' must be a non-negative integer, got '-1'").where.line == 8);
    CHECK(find(errors, "'epochs' in 'options' must be a single value, got a list").where.line == 10);
  }

  TEST_CASE("values out of range are rejected") {
    Fixture f(
        "name: Practice!\n"
        "title: Practice exam\n"
        "duration: 0s\n"
        "pass_mark: 6\n"
        "threads: 65\n"
        "tasks: [mnist]\n",
        "title: MNIST digits\n"
        "statement: README.md\n"
        "plugin: mnist\n"
        "metric: accuracy\n"
        "ladder: [0.80, 0.84, 0.87, 0.89, 0.91]\n"
        "time_budget: 0\n"
        "memory_limit: 32MiB\n"
        "starter: starter.cpp\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    CHECK(find(errors, "key 'name' must use only a-z, 0-9, '_' and '-', got 'Practice!'").where.line == 1);
    CHECK(find(errors, "key 'duration' must be longer than zero").where.line == 3);
    CHECK(find(errors, "pass_mark 6 cannot be reached: 1 task(s) score at most 5").where.str() ==
          f.environment_file() + ":4:12");
    CHECK(find(errors, "key 'threads' must be between 1 and 64, got '65'").where.line == 5);
    CHECK(find(errors, "key 'time_budget' must be longer than zero").where.line == 6);
    CHECK(find(errors, "key 'memory_limit' must be at least 64MiB, got '32MiB'").where.line == 7);
    CHECK(errors.size() == 6);
  }

  TEST_CASE("durations longer than a year are refused, before the clock types they become overflow") {
    // Found by fuzz_yaml: 9999999999h loaded, and the exam's deadline, the
    // budget or the Slurm poll interval then overflowed a clock type.
    std::string environment = kEnvironment, task = kTask;
    environment.replace(environment.find("duration: 5h"), 12, "duration: 9999999999h");
    environment.replace(environment.find("tasks:"), 0,
                        "compiler: {timeout: 8785h}\n"
                        "grading: {slurm: {shared_dir: /shared, poll: 100000000000000000000s}}\n");
    task.replace(task.find("time_budget: 10m"), 16, "time_budget: 2562048h");
    Fixture f(environment, task);
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    CHECK(find(errors, "key 'duration' must be at most 8784h (a year), got '9999999999h'").where.line == 3);
    CHECK(find(errors, "key 'timeout' must be at most 8784h").where.line == 5);
    CHECK(find(errors, "key 'poll' must be at most 8784h").where.line == 6);
    CHECK(find(errors, "key 'time_budget' must be at most 8784h").where.line == 6);
    CHECK(errors.size() == 4);
    // A year itself is still a duration.
    CHECK(parse_duration("8784h") == 366.0 * 24 * 3600);
    CHECK_THROWS_AS(parse_duration("8784h1s"), std::invalid_argument);
  }

  TEST_CASE("pass_mark may equal five per task but not be negative") {
    Fixture ok("name: practice\ntitle: P\nduration: 5h\npass_mark: 5\ntasks: [mnist]\n");
    CHECK(load_environment(ok.dir).pass_mark == 5);
    Fixture negative("name: practice\ntitle: P\nduration: 5h\npass_mark: -1\ntasks: [mnist]\n");
    find(errors_of(negative.dir), "key 'pass_mark' must be at least 0, got '-1'");
  }

  TEST_CASE("a YAML syntax error gives the line and column") {
    Fixture f(
        "name: practice\n"
        "title: Practice exam\n"
        "tasks: [mnist\n"
        "duration: 5h\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].where.file == f.environment_file());
    CHECK(errors[0].where.line >= 3);
    CHECK(errors[0].where.column >= 1);
    CHECK_FALSE(errors[0].message.empty());
  }

  TEST_CASE("a syntax error in task.yaml is reported at its position") {
    Fixture f(kEnvironment, "title: MNIST\n  plugin: : mnist\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    REQUIRE(errors.size() == 1);
    CHECK(errors[0].where.file == f.task_file());
    CHECK(errors[0].where.line == 2);
    CHECK(errors[0].where.column > 0);
  }

  TEST_CASE("a ladder must have five strictly monotonic numbers") {
    const auto ladder_error = [](const std::string& ladder) {
      std::string task = kTask;
      task.replace(task.find("[0.80, 0.84, 0.87, 0.89, 0.91]"), 30, ladder);
      Fixture f(kEnvironment, task);
      const std::vector<Diagnostic> errors = errors_of(f.dir);
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].where.str() == f.task_file() + ":5:9");
      return errors[0].message;
    };
    CHECK(ladder_error("[0.5, 0.7, 0.6, 0.8, 0.9]") ==
          "ladder must be strictly increasing (a higher metric is better) or strictly decreasing "
          "(a lower metric is better), got [0.5, 0.7, 0.6, 0.8, 0.9]");
    CHECK(ladder_error("[0.5, 0.5, 0.6, 0.8, 0.9]").find("strictly increasing") != std::string::npos);
    CHECK(ladder_error("[0.9, 0.8, 0.8, 0.7, 0.6]").find("strictly decreasing") != std::string::npos);
    CHECK(ladder_error("[0.8, 0.9]").find("exactly 5 thresholds") != std::string::npos);
    CHECK(ladder_error("[1, 2, 3, 4, 5, 6]").find("got 6") != std::string::npos);
    CHECK(ladder_error("0.9").find("must be a list of 5 numbers") != std::string::npos);
  }

  TEST_CASE("files named by a task must exist") {
    std::string task = kTask;
    task.replace(task.find("README.md"), 9, "STATEMENT.md");
    Fixture f(kEnvironment, task + "reference: ../reference.cpp\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    const Diagnostic statement = find(errors, "key 'statement' names 'STATEMENT.md', which is not a file in");
    CHECK(statement.where.str() == f.task_file() + ":2:12");
    CHECK(statement.message.find((f.dir / "mnist").string()) != std::string::npos);
    find(errors, "key 'reference' names '../reference.cpp'");
  }

  TEST_CASE("files named by a task must be inside its folder, even when they exist") {
    std::string task = kTask;
    task.replace(task.find("starter: starter.cpp"), 20, "starter: /etc/hostname");
    Fixture f(kEnvironment, task + "reference: ../other/reference.cpp\n");
    fs::create_directories(f.dir / "other");
    std::ofstream(f.dir / "other" / "reference.cpp") << "// another task's reference\n";
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    const Diagnostic reference = find(errors, "key 'reference' names '../other/reference.cpp', which is outside");
    CHECK(reference.message.find("name a file inside it") != std::string::npos);
    find(errors, "key 'starter' names '/etc/hostname', which is outside");
  }

  TEST_CASE("missing files and folders are named") {
    SUBCASE("no environment folder") {
      TempDir tmp;
      const Diagnostic d = errors_of(tmp.path() / "nowhere").at(0);
      CHECK(d.where.str() == (tmp.path() / "nowhere").string());
      CHECK(d.message.find("environment.yaml") != std::string::npos);
    }
    SUBCASE("no environment.yaml") {
      TempDir tmp;
      fs::create_directories(tmp.path() / "env");
      const std::vector<Diagnostic> errors = errors_of(tmp.path() / "env");
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].where.str() == (tmp.path() / "env" / "environment.yaml").string());
      CHECK(errors[0].message == "file not found; expected the environment's description (environment.yaml) here");
    }
    SUBCASE("no task.yaml") {
      Fixture f;
      fs::remove(f.dir / "mnist" / "task.yaml");
      const std::vector<Diagnostic> errors = errors_of(f.dir);
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].where.str() == f.task_file());
      CHECK(errors[0].message == "file not found; expected the task's description (task.yaml) here");
    }
    SUBCASE("no task folder") {
      Fixture f("name: practice\ntitle: P\ndurat"
                "ion: 5h\npass_mark: 3\ntasks:\n  - mnist\n  - cifar\n");
      const std::vector<Diagnostic> errors = errors_of(f.dir);
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].where.str() == f.environment_file() + ":7:5");
      CHECK(errors[0].message.find("task 'cifar' has no folder " + (f.dir / "cifar").string()) == 0);
    }
  }

  TEST_CASE("task ids are unique folder names") {
    Fixture f("name: practice\ntitle: P\nduration: 5h\npass_mark: 3\ntasks: [mnist, ../x, mnist]\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    CHECK(find(errors, "task 'mnist' is listed twice (first at line 5)").where.str() ==
          f.environment_file() + ":5:22");
    find(errors, "task '../x' must be the name of a folder inside");
    CHECK(errors.size() == 2);  // the valid entry, mnist, still loaded cleanly
  }

  TEST_CASE("the valid tasks are still checked when another entry is invalid") {
    Fixture f("name: practice\ntitle: P\nduration: 5h\npass_mark: 3\ntasks: [mnist, '']\n", kTask + "colour: red\n");
    const std::vector<Diagnostic> errors = errors_of(f.dir);
    REQUIRE(errors.size() == 2);
    CHECK(errors[0].where.str() == f.environment_file() + ":5:16");
    CHECK(errors[1].where.str() == f.task_file() + ":9:1");
  }

  TEST_CASE("duplicate keys are reported") {
    Fixture f(kEnvironment + "title: Again\n");
    CHECK(find(errors_of(f.dir), "duplicate key 'title' in environment.yaml (first at line 2)").where.line == 6);
  }

  TEST_CASE("an empty or non-map file is reported") {
    SUBCASE("empty") {
      Fixture f("");
      const std::vector<Diagnostic> errors = errors_of(f.dir);
      CHECK(errors.size() == 5);  // name, title, duration, pass_mark, tasks
      find(errors, "missing required key 'tasks'");
    }
    SUBCASE("a list") {
      Fixture f("- name: practice\n");
      const std::vector<Diagnostic> errors = errors_of(f.dir);
      REQUIRE(errors.size() == 1);
      CHECK(errors[0].message == "environment.yaml must be a map of keys to values, got a list");
      CHECK(errors[0].where.str() == f.environment_file() + ":1:1");
    }
  }

  TEST_CASE("every problem is reported in one ConfigError") {
    Fixture f(
        "name: practice\n"
        "title: Practice exam\n"
        "duration: forever\n"
        "pass_mark: 3\n"
        "tasks: [mnist]\n",
        "title: MNIST digits\n"
        "statement: README.md\n"
        "plugin: mnist\n"
        "metric: accuracy\n"
        "ladder: [0.9, 0.8, 0.85, 0.7, 0.6]\n"
        "time_budget: 10m\n"
        "memory_limit: lots\n"
        "starter: starter.cpp\n");
    try {
      load_environment(f.dir);
      FAIL("expected a ConfigError");
    } catch (const ConfigError& e) {
      REQUIRE(e.diagnostics().size() == 3);
      const std::string expected = f.environment_file() + ":3:11: key 'duration' must be a duration, got 'forever'";
      const std::string what = e.what();
      CHECK(what.find(expected) == 0);
      CHECK(what.find("\n" + f.task_file() + ":5:9: ladder must be strictly") != std::string::npos);
      CHECK(what.find("\n" + f.task_file() + ":7:15: key 'memory_limit' must be a size, got 'lots'") !=
            std::string::npos);
      CHECK(std::count(what.begin(), what.end(), '\n') == 2);
    }
  }

  TEST_CASE("Mark::str and ConfigError::what") {
    CHECK(Mark{"a.yaml", 3, 7}.str() == "a.yaml:3:7");
    CHECK(Mark{"a.yaml"}.str() == "a.yaml");
    const ConfigError error({{Mark{"a.yaml", 1, 2}, "first"}, {Mark{"b.yaml"}, "second"}});
    CHECK(std::string(error.what()) == "a.yaml:1:2: first\nb.yaml: second");
    CHECK(error.diagnostics().size() == 2);
  }

  TEST_CASE("parse_duration") {
    CHECK(parse_duration("90s") == 90);
    CHECK(parse_duration("45m") == 2700);
    CHECK(parse_duration("5h") == 18000);
    CHECK(parse_duration("1h30m") == 5400);
    CHECK(parse_duration("2m30s") == 150);
    CHECK(parse_duration("1h0m5s") == 3605);
    CHECK(parse_duration("1.5h") == 5400);
    CHECK(parse_duration("0.5s") == 0.5);
    CHECK(parse_duration("120") == 120);
    CHECK(parse_duration("2.5") == 2.5);
    CHECK(parse_duration(" 10m ") == 600);
    CHECK(parse_duration("0") == 0);
    for (const char* bad : {"", "h", "abc", "-5m", "1h30", "30m1h", "1h1h", "5d", "1 h", "1..5h", ".5h", "1e3",
                            "10ms", "m30s"}) {
      CAPTURE(bad);
      CHECK_THROWS_AS(parse_duration(bad), std::invalid_argument);
    }
    try {
      parse_duration("soon");
    } catch (const std::invalid_argument& e) {
      const std::string message = e.what();
      CHECK(message.find("'soon'") != std::string::npos);
      CHECK(message.find("1h30m") != std::string::npos);
    }
  }

  TEST_CASE("parse_size") {
    CHECK(parse_size("512MiB") == 512ull << 20);
    CHECK(parse_size("4GiB") == 4ull << 30);
    CHECK(parse_size("1024KiB") == 1ull << 20);
    CHECK(parse_size("100B") == 100);
    CHECK(parse_size("1000") == 1000);
    CHECK(parse_size("0") == 0);
    CHECK(parse_size(" 2GiB ") == 2ull << 30);
    for (const char* bad : {"", "GiB", "abc", "-1", "1.5GiB", "4G", "4GB", "4gib", "4 GiB", "4TiB",
                            "99999999999999999999", "17179869184GiB"}) {
      CAPTURE(bad);
      CHECK_THROWS_AS(parse_size(bad), std::invalid_argument);
    }
    try {
      parse_size("4GB");
    } catch (const std::invalid_argument& e) {
      CHECK(std::string(e.what()) == "invalid size '4GB': 'GB' is ambiguous (1000 or 1024?); write 4GiB");
    }
  }

  TEST_CASE("closest_match") {
    const std::vector<std::string> known{"title", "statement", "plugin", "metric", "ladder", "time_budget"};
    CHECK(closest_match("ladder", known) == "ladder");
    CHECK(closest_match("Ladder", known) == "ladder");
    CHECK(closest_match("ladr", known) == "ladder");
    CHECK(closest_match("titel", known) == "title");
    CHECK(closest_match("plugins", known) == "plugin");
    CHECK(closest_match("time_budgte", known) == "time_budget");
    CHECK(closest_match("statment", known) == "statement");
    CHECK(closest_match("thresholds", known) == "");
    CHECK(closest_match("zzz", known) == "");
    CHECK(closest_match("", known) == "");
    CHECK(closest_match("title", {}) == "");
    // The limit is max(2, length / 3): 9 letters allow 3 edits, 6 allow 2.
    CHECK(closest_match("stxtxmxnt", known) == "statement");
    CHECK(closest_match("mxtxix", known) == "");
  }
}
