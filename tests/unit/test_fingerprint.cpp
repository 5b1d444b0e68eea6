// A grading's fingerprint: the runner's BLAS probe over memory-map text
// (sandbox/platform.hpp), capture from both sides with fake probes
// (grading/fingerprint_capture.hpp), the reasons two fingerprints differ
// (grading/fingerprint.hpp), and `grade --repeat`'s summary
// (grading/repeat.hpp). No LibTorch, compiler or plugin runs.
#include "base/hash.hpp"
#include "grading/fingerprint.hpp"
#include "grading/fingerprint_capture.hpp"
#include "grading/grade_json.hpp"
#include "grading/repeat.hpp"
#include "sandbox/platform.hpp"

#include <torchexam/plugin_abi.h>

#include "idx_writer.hpp"  // temp_dir

#include <doctest/doctest.h>
#include <boost/json.hpp>

#include <algorithm>
#include <cmath>
#include <fstream>

using namespace torchexam;
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Files hash to "sha-of:<name>", folders to "tree-of:<name>"; counts calls.
class FakeProbes final : public FingerprintProbes {
 public:
  std::string harness_version() const override { return "9.9.9"; }
  std::string file_sha256(const fs::path& file) override {
    ++files_hashed;
    if (!fs::exists(file)) throw std::runtime_error("no such file " + file.string());
    return "sha-of:" + file.filename().string();
  }
  std::string tree_sha256(const fs::path& dir) override { return "tree-of:" + dir.filename().string(); }
  int files_hashed = 0;
};

events::Platform openblas_platform() {
  events::Platform p;
  p.libtorch_version = "1.13.0";
  p.cxx11_abi = true;
  p.parallel = "OpenMP";
  p.blas_path = "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3";
  p.blas_version = "0.3.21";
  p.threads = 2;
  p.interop_threads = 1;
  p.deterministic = true;
  return p;
}

struct Fixture {
  fs::path dir = test::temp_dir("fingerprint");
  config::Environment env;
  FakeProbes probes;
  FingerprintInputs in;

  Fixture() {
    config::DataSet set;
    set.name = "fashion-mnist";
    set.items = {{"train-images", std::string(64, 'a'), false, {}}, {"train-labels", std::string(64, 'b'), false, {}}};
    env.data.push_back(set);
    config::TaskConfig task;
    task.id = "fashion_mnist";
    task.plugin = "fashion_mnist";
    task.metric = "accuracy";
    task.ladder.thresholds = {0.78, 0.82, 0.85, 0.89, 0.91};
    task.time_budget_s = 600;
    task.memory_limit_bytes = 4ull << 30;
    task.seed = 42;
    task.data = "fashion-mnist";
    env.tasks.push_back(task);
    std::ofstream(dir / "solution.cpp") << "// solution\n";
    std::ofstream(dir / "libfashion_mnist.so") << "plugin";
    in.environment = &env;
    in.task = &env.tasks.front();
    in.source = dir / "solution.cpp";
    in.plugin = dir / "libfashion_mnist.so";
    in.options = {{"data_dir", "/data/fashion-mnist"}, {"limit", "3000"}};
    in.data_pins = {std::string(64, 'a'), std::string(64, 'b')};
    in.seed = 42;
    in.threads = 2;
    in.budget_s = 30;
    in.deterministic = true;
    in.compiler_identity = "g++ (Debian 12.2.0-14) 12.2.0";
    in.compiler_flags = {"-std=c++17", "-O2"};
    in.platform = openblas_platform();
    in.sandbox_layers = {"pid_namespace", "seccomp"};
  }
  Fingerprint capture() { return capture_fingerprint(in, probes); }
};

GradeResult run(int score, std::optional<double> metric, Verdict verdict = Verdict::ok) {
  GradeResult r;
  r.verdict = verdict;
  r.metric_name = "accuracy";
  r.score = score;
  r.metric = metric;
  return r;
}

}  // namespace

TEST_SUITE("fingerprint") {
  TEST_CASE("the BLAS mapped into a process is found in its memory map, symbolic links resolved by the kernel") {
    const std::string maps =
        "55d0c000-55d0d000 r--p 00000000 08:01 131 /usr/lib/torchexam/torchexam-runner\n"
        "7f10a000-7f10b000 r-xp 00000000 00:00 0 \n"
        "7f11a000-7f11f000 r-xp 00001000 08:01 264 /usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3\n"
        "7f12a000-7f12b000 r--p 00000000 08:01 265 /usr/lib/x86_64-linux-gnu/liblapack.so.3\n"
        "7f13a000-7f13b000 rw-p 00000000 00:00 0 [heap]\n";
    CHECK(sandbox::blas_in_maps(maps) == "/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3");
    // OpenBLAS is preferred over a generic libblas mapped beside it; a
    // deleted file keeps its path without the mark.
    CHECK(sandbox::blas_in_maps("7f-7f r-xp 0 08:01 1 /usr/lib/blas/libblas.so.3.11.0\n"
                                "7f-7f r-xp 0 08:01 2 /opt/lib/libopenblasp-r0.3.21.so (deleted)\n") ==
          "/opt/lib/libopenblasp-r0.3.21.so");
    CHECK(sandbox::blas_in_maps("7f-7f r-xp 0 08:01 1 /usr/lib/libmkl_rt.so.2\n") == "/usr/lib/libmkl_rt.so.2");
    CHECK(sandbox::blas_in_maps("7f-7f r-xp 0 08:01 1 /usr/lib/libc.so.6\n7f-7f rw-p 0 00:00 0\n").empty());
    CHECK(sandbox::blas_in_maps("").empty());
  }

  TEST_CASE("a BLAS version comes from OpenBLAS's configuration, else from the file's name") {
    CHECK(sandbox::version_from_openblas_config("OpenBLAS 0.3.21 NO_AFFINITY USE_OPENMP Haswell MAX_THREADS=64") ==
          "0.3.21");
    CHECK(sandbox::version_from_openblas_config("something else").empty());
    CHECK(sandbox::version_from_library_name("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0") == "3.11.0");
    CHECK(sandbox::version_from_library_name("/opt/lib/libopenblasp-r0.3.21.so") == "0.3.21");
    CHECK(sandbox::version_from_library_name("/usr/lib/libblas.so").empty());
    // This process's own map reads without throwing; what it finds depends on the machine.
    const auto here = sandbox::read_blas();
    CHECK((here.path.empty() || here.path.front() == '/'));
  }

  TEST_CASE("a remembered file hash follows the file: rewritten in place, replaced, or gone") {
    const fs::path dir = test::temp_dir("file-sha256");
    const fs::path f = dir / "data.bin";
    std::ofstream(f, std::ios::binary) << "aaaa";
    CHECK(file_sha256(f) == sha256_hex("aaaa"));
    CHECK(file_sha256(f) == sha256_hex("aaaa"));
    // The same size, in place, a second later (an edit within one clock
    // tick of the last read is the case a stamp cannot tell: hash.hpp).
    const auto stamp = fs::last_write_time(f);
    std::ofstream(f, std::ios::binary | std::ios::in) << "bbbb";
    fs::last_write_time(f, stamp + std::chrono::seconds(1));
    CHECK(file_sha256(f) == sha256_hex("bbbb"));
    write_file_atomically(f, "cccc");  // another inode
    CHECK(file_sha256(f) == sha256_hex("cccc"));
    fs::remove(f);
    CHECK_THROWS_WITH(file_sha256(f), doctest::Contains(("cannot read " + f.string()).c_str()));
    fs::remove_all(dir);
  }

  TEST_CASE("capture: the runner's report and the trusted side's facts, each in its field") {
    Fixture f;
    const Fingerprint fp = f.capture();
    CHECK(fp.harness_version == "9.9.9");
    CHECK(fp.source_sha256 == "sha-of:solution.cpp");
    CHECK(fp.seed == 42);
    CHECK(fp.threads == 2);
    CHECK(fp.deterministic);
    CHECK(fp.libtorch == LibTorchBuild{"1.13.0", true, "OpenMP"});
    CHECK(fp.blas == BlasLibrary{"/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3", "0.3.21"});
    CHECK(fp.compiler == CompilerId{"GNU", "12.2.0", {"-std=c++17", "-O2"}});
    CHECK(fp.plugin.sha256 == "sha-of:libfashion_mnist.so");
    CHECK(fp.plugin.abi_version == static_cast<int>(TORCHEXAM_PLUGIN_ABI_VERSION));
    CHECK(fp.task.ladder == std::vector<double>{0.78, 0.82, 0.85, 0.89, 0.91});
    CHECK(fp.task.time_budget_s == 30);  // the budget in force, not the task's
    CHECK(fp.task_sha256.size() == 64);
    // The installed set: its declared pins stand for it; nothing is hashed but the source and the plugin.
    REQUIRE(fp.data.count("fashion-mnist"));
    CHECK(fp.data.at("fashion-mnist") == data_set_sha256(f.env.data.front()));
    CHECK(f.probes.files_hashed == 2);
    CHECK(fp.sandbox_layers == std::vector<std::string>{"pid_namespace", "seccomp"});
    // What the JSON keeps reads back whole.
    CHECK(json::value_to<Fingerprint>(json::parse(json::serialize(json::value_from(fp)))) == fp);
  }

  TEST_CASE("capture: the runner's report wins over what was asked; without one, what was asked stands") {
    Fixture f;
    f.in.platform->threads = 1;
    f.in.platform->deterministic = false;
    CHECK(f.capture().threads == 1);
    CHECK_FALSE(f.capture().deterministic);
    f.in.platform.reset();  // a grading that ended before a runner reported
    const Fingerprint fp = f.capture();
    CHECK(fp.threads == 2);
    CHECK(fp.deterministic);
    CHECK(fp.libtorch.version.empty());
    CHECK(fp.blas.path.empty());
  }

  TEST_CASE("capture: a data folder other than the installed set is hashed; a missing file is a problem, not a throw") {
    Fixture f;
    f.in.data_pins.clear();
    f.in.source = f.dir / "gone.cpp";
    std::vector<std::string> problems;
    const Fingerprint fp = capture_fingerprint(f.in, f.probes, &problems);
    CHECK(fp.data.at("fashion-mnist") == "tree-of:fashion-mnist");
    CHECK(fp.source_sha256.empty());
    REQUIRE(problems.size() == 1);
    CHECK(problems[0].find("cannot read the source") != std::string::npos);
    CHECK(problems[0].find("gone.cpp") != std::string::npos);
  }

  TEST_CASE("capture: a TorchScript model has no compiler") {
    Fixture f;
    f.in.compiler_identity.clear();
    CHECK(f.capture().compiler == CompilerId{});
  }

  TEST_CASE("the task's hash moves with each part of its definition, and not with data_dir") {
    Fixture f;
    const auto base = f.capture().task_sha256;
    auto changed = [&](auto&& edit) {
      Fixture g;
      edit(g);
      return g.capture().task_sha256 != base;
    };
    CHECK(changed([](Fixture& g) { g.env.tasks[0].ladder.thresholds[0] = 0.7; }));
    CHECK(changed([](Fixture& g) { g.env.tasks[0].ladder.higher_is_better = false; }));
    CHECK(changed([](Fixture& g) { g.in.budget_s = 31; }));
    CHECK(changed([](Fixture& g) { g.in.seed = 43; }));
    CHECK(changed([](Fixture& g) { g.env.tasks[0].memory_limit_bytes = 1; }));
    CHECK(changed([](Fixture& g) { g.in.options["limit"] = "4000"; }));
    CHECK_FALSE(changed([](Fixture& g) { g.in.options["data_dir"] = "/elsewhere"; }));
    CHECK_FALSE(changed([](Fixture& g) { g.in.threads = 1; }));
  }

  TEST_CASE("compiler identities") {
    CHECK(parse_compiler_identity("g++ (Debian 12.2.0-14) 12.2.0") == CompilerId{"GNU", "12.2.0", {}});
    CHECK(parse_compiler_identity("Debian clang version 14.0.6") == CompilerId{"Clang", "14.0.6", {}});
    CHECK(parse_compiler_identity("") == CompilerId{});
  }

  TEST_CASE("differences are named: BLAS, threads, ladder, budget, data, plugin, sandbox") {
    Fixture f;
    const Fingerprint a = f.capture();
    CHECK(fingerprint_differences(a, a).empty());

    Fingerprint b = a;
    b.threads = 1;
    CHECK(fingerprint_differences(a, b) == std::vector<std::string>{"thread count 2 -> 1"});

    b = a;
    b.blas = {"/usr/lib/x86_64-linux-gnu/blas/libblas.so.3.11.0", "3.11.0"};
    CHECK(fingerprint_differences(a, b) ==
          std::vector<std::string>{"BLAS changed from openblas-pthread 0.3.21 to reference 3.11.0"});

    Fixture g;
    g.env.tasks[0].ladder.thresholds = {0.7, 0.82, 0.85, 0.89, 0.91};
    g.in.budget_s = 60;
    CHECK(fingerprint_differences(a, g.capture()) ==
          std::vector<std::string>{"ladder changed from [0.78, 0.82, 0.85, 0.89, 0.91] to [0.7, 0.82, 0.85, 0.89, 0.91]",
                                   "training budget 30 s -> 60 s"});

    b = a;
    b.data["fashion-mnist"] = "other";
    b.plugin.sha256 = "0123456789abcdef0123";
    b.sandbox_layers = {"pid_namespace", "landlock"};
    b.deterministic = false;
    b.libtorch.version = "2.0.1";
    CHECK(fingerprint_differences(a, b) ==
          std::vector<std::string>{"deterministic algorithms on -> off", "LibTorch 1.13.0 -> 2.0.1",
                                   "task plugin changed (sha256 sha-of:libfa -> 0123456789ab)",
                                   "data set fashion-mnist changed", "sandbox layers +landlock -seccomp"});
  }

  TEST_CASE("differences: a field an older record lacks is not compared; a bare task hash is still named") {
    Fixture f;
    const Fingerprint now = f.capture();
    Fingerprint old = now;
    old.threads = 0;
    old.blas = {};
    old.libtorch = {};
    old.compiler = {};
    old.task = {};
    old.task_sha256 = "an older definition";
    CHECK(fingerprint_differences(old, now) == std::vector<std::string>{"task definition changed"});
  }

  TEST_CASE("the fingerprint of a stored result, and none from a result without one or text that is not JSON") {
    Fixture f;
    GradeResult r = run(4, 0.85);
    r.fingerprint = f.capture();
    CHECK(stored_fingerprint(json::serialize(json::value_from(r))) == r.fingerprint);
    CHECK_FALSE(stored_fingerprint(json::serialize(json::value_from(run(4, 0.85)))));
    CHECK_FALSE(stored_fingerprint("{}"));
    CHECK_FALSE(stored_fingerprint("not json"));
    CHECK_FALSE(stored_fingerprint(R"({"fingerprint": {"threads": "two"}})"));
  }

  TEST_CASE("grade --repeat: spread, flips, bit-identical metrics and predictions") {
    const RepeatSummary same = summarize_repeats({run(4, 0.85), run(4, 0.85), run(4, 0.85)}, {"p", "p", "p"});
    REQUIRE(same.metric);
    CHECK(*same.metric == MetricSpread{0.85, 0.85, 0.85});
    CHECK_FALSE(same.score_flips);
    CHECK(same.metrics_identical);
    CHECK(same.predictions_identical);

    const RepeatSummary flaky =
        summarize_repeats({run(4, 0.8501), run(3, 0.8499), run(4, 0.8502), run(4, 0.8500)}, {"p", "q", "p", "p"});
    REQUIRE(flaky.metric);
    CHECK(flaky.metric->min == 0.8499);
    CHECK(flaky.metric->median == doctest::Approx(0.85005));
    CHECK(flaky.metric->max == 0.8502);
    CHECK(flaky.score_flips);
    CHECK(flaky.scores == std::vector<int>{4, 3, 4, 4});
    CHECK_FALSE(flaky.metrics_identical);
    CHECK_FALSE(flaky.predictions_identical);

    // A verdict that changes is a flip even at the same score; a run without
    // a metric or predictions makes nothing identical.
    const RepeatSummary broken = summarize_repeats({run(0, std::nullopt, Verdict::timeout), run(0, 0.1)}, {"", "p"});
    CHECK(broken.score_flips);
    CHECK_FALSE(broken.metrics_identical);
    CHECK_FALSE(broken.predictions_identical);
    CHECK(broken.metric->min == 0.1);

    // -0.0 and 0.0 compare equal but are not the same bits.
    CHECK_FALSE(summarize_repeats({run(0, 0.0), run(0, -0.0)}, {"p", "p"}).metrics_identical);
  }

  TEST_CASE("grade --repeat: the score taken when the runs disagree follows the environment's rule") {
    using Rule = config::Grading::RepeatScore;
    CHECK(taken_score({3, 5, 4}, Rule::live) == 3);
    CHECK(taken_score({3, 5, 4}, Rule::best) == 5);
    CHECK(taken_score({3, 5, 4}, Rule::median) == 4);
    CHECK(taken_score({5, 3, 4, 2}, Rule::median) == 3);  // the lower middle: a score some run gave
    CHECK(taken_score({}, Rule::best) == 0);
    const RepeatSummary s = summarize_repeats({run(3, 0.84), run(4, 0.86), run(4, 0.87)}, {"p", "q", "r"}, Rule::median);
    CHECK(s.score_taken == 4);
    CHECK(json::value_from(s).at("score_rule").as_string() == "median");
    const auto lines = repeat_lines(s);
    CHECK(std::find(lines.begin(), lines.end(), "score FLIPS between runs: 3, 4, 4; taken: 4/5 (grading.repeat_score: median)") !=
          lines.end());
  }

  TEST_CASE("grade --repeat: the runs' fingerprint differences are named per run, and the JSON says it all") {
    Fixture f;
    GradeResult a = run(4, 0.85), b = run(4, 0.85);
    a.fingerprint = f.capture();
    f.in.platform->threads = 1;
    b.fingerprint = f.capture();
    const RepeatSummary s = summarize_repeats({a, b}, {"p", "p"});
    CHECK(s.fingerprint_differences == std::vector<std::string>{"run 2: thread count 2 -> 1"});
    const json::value v = json::value_from(s);
    CHECK(v.at("repeat").to_number<int>() == 2);
    CHECK(v.at("metric").at("spread").to_number<double>() == 0);
    CHECK(v.at("score_flips").as_bool() == false);
    CHECK(v.at("predictions_identical").as_bool());
    CHECK(v.at("runs").as_array().size() == 2);
    CHECK(v.at("fingerprint_differences").as_array().size() == 1);
    const auto lines = repeat_lines(s);
    CHECK(std::find(lines.begin(), lines.end(), "score stable: 4/5 in every run") != lines.end());
    CHECK(std::find(lines.begin(), lines.end(), "fingerprint run 2: thread count 2 -> 1") != lines.end());
  }
}
