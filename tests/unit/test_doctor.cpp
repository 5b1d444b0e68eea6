// Tests for `torchexam doctor`'s checks (harness/doctor/): every failing
// check is provoked with the input it inspects (a missing or altered data
// file, a LibTorch pin this machine does not meet, a plugin from a future
// ABI, an unwritable state folder, a sandbox layer reported missing) and its
// message and fix are asserted. Also: the pins in environment.yaml, version
// requirements, and the stored forecast.
#include "base/paths.hpp"

#include <doctest/doctest.h>

#include <sys/stat.h>

#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "base/process.hpp"
#include "config/config.hpp"
#include "config/version_spec.hpp"
#include "doctor/checks.hpp"
#include "doctor/doctor.hpp"
#include "doctor/forecast.hpp"
#include "idx_writer.hpp"  // temp_dir, ScopedEnv

#include <boost/json.hpp>

#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

namespace fs = std::filesystem;
using namespace torchexam;
using namespace torchexam::doctor;

namespace {

const fs::path kSource = TORCHEXAM_SOURCE_DIR;

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

void write(const fs::path& file, const std::string& text) {
  fs::create_directories(file.parent_path());
  std::ofstream(file, std::ios::binary) << text;
}

// A one-task environment with `extra` appended to environment.yaml.
fs::path environment_with(const std::string& name, const std::string& extra) {
  const fs::path dir = test::temp_dir("doctor-env-" + name);
  write(dir / "environment.yaml", "name: pins\ntitle: Pins\nduration: 1h\npass_mark: 1\ntasks: [t]\n" + extra);
  write(dir / "t" / "task.yaml",
        "title: T\nstatement: README.md\nplugin: fashion_mnist\nmetric: accuracy\n"
        "ladder: [0.1, 0.2, 0.3, 0.4, 0.5]\ntime_budget: 1m\nmemory_limit: 1GiB\nstarter: starter.cpp\n");
  write(dir / "t" / "README.md", "statement\n");
  write(dir / "t" / "starter.cpp", "// starter\n");
  return dir;
}

std::string load_errors(const fs::path& dir) {
  try {
    config::load_environment(dir);
  } catch (const config::ConfigError& e) {
    return e.what();
  }
  return "";
}

config::DataSet one_file_set(const std::string& sha256) {
  config::DataSet set;
  set.name = "numbers";
  set.apt = "python3-numbers";
  set.items.push_back({"usr/share/numbers/numbers.csv", sha256, false, {}});
  return set;
}

}  // namespace

TEST_SUITE("doctor") {
  TEST_CASE("version requirements: exact, prefix and ranges") {
    const Version v = *parse_version("1.13.1+dfsg-4");
    CHECK(to_string(v) == "1.13.1");
    CHECK(VersionSpec::parse("1.13.1").matches(v));
    CHECK(VersionSpec::parse("1.13").matches(v));
    CHECK_FALSE(VersionSpec::parse("1.13.0").matches(v));
    CHECK(VersionSpec::parse(">=1.13, <2").matches(v));
    CHECK_FALSE(VersionSpec::parse(">=2.1").matches(v));
    CHECK(VersionSpec::parse(">=12").matches(*parse_version("12.2.0")));
    CHECK_FALSE(VersionSpec::parse(">12.2").matches(*parse_version("12.2.0")));
    CHECK_THROWS_AS(VersionSpec::parse(">= twelve"), std::invalid_argument);
    CHECK_THROWS_AS(VersionSpec::parse("1..2"), std::invalid_argument);
  }

  TEST_CASE("the pins load from environment.yaml") {
    const fs::path dir =
        environment_with("ok",
                         "compiler: {id: gcc, version: \">=12\"}\nlibtorch: {version: 1.13.1, cxx11_abi: 1}\n"
                         "cmake: {version: \">=3.25\"}\nresources: {disk: 2GiB, memory: 512MiB}\ncuda: optional\n"
                         "sandbox: {require: [pid_namespace, rlimits]}\n");
    const config::Environment env = config::load_environment(dir);
    CHECK(env.pins.compiler_id == "gcc");
    CHECK(env.pins.compiler_version.text() == ">=12");
    CHECK(env.pins.libtorch_version.text() == "1.13.1");
    CHECK(env.pins.cxx11_abi == 1);
    CHECK(env.pins.cmake_version.text() == ">=3.25");
    CHECK(env.pins.disk_bytes == (uint64_t{2} << 30));
    CHECK(env.pins.memory_bytes == (uint64_t{512} << 20));
    CHECK(env.pins.cuda == config::Pins::Cuda::optional);
    CHECK(env.pins.sandbox_require == std::vector<std::string>{"pid_namespace", "rlimits"});
    fs::remove_all(dir);
  }

  TEST_CASE("bad pins are reported at their position with a did-you-mean") {
    const fs::path dir = environment_with(
        "bad",
        "libtorch: {version: \">= two\", abi: 1}\ncuda: requred\nsandbox:\n  require: [pid_namesapce, rlimits]\n"
        "compiler: {id: g++}\nresources: {memory: 4GB}\n");
    const std::string errors = load_errors(dir);
    INFO(errors);
    CHECK(contains(errors, "environment.yaml:6:21: key 'version' must be a version requirement, got '>= two'"));
    CHECK(contains(errors, "unknown key 'abi' in 'libtorch'; did you mean 'cxx11_abi'?"));
    CHECK(contains(errors,
                   "environment.yaml:7:7: key 'cuda' must be one of none, optional, required, got 'requred'; "
                   "did you mean 'required'?"));
    CHECK(contains(errors,
                   "environment.yaml:9:13: unknown sandbox layer 'pid_namesapce'; did you mean 'pid_namespace'?"));
    CHECK(contains(errors, "key 'id' must be one of gcc, clang, got 'g++'; did you mean 'gcc'?"));
    CHECK(contains(errors, "key 'memory' must be a size, got '4GB' ('GB' is ambiguous (1000 or 1024?); write 4GiB)"));
    fs::remove_all(dir);
  }

  TEST_CASE("the practice environment's pins hold on this machine's toolchain") {
    const config::Environment env = config::load_environment(kSource / "environments/practice");
    CHECK(env.pins.libtorch_version.text() == "1.13.1");
    CHECK(check_cxx11_abi(env.pins, "-D_GLIBCXX_USE_CXX11_ABI=1").status == Status::ok);
    CHECK(check_libtorch_version(env.pins, {"1.13.1", "Debian package libtorch1.13 1.13.1+dfsg-4"}).status ==
          Status::ok);
  }

  TEST_CASE("a missing data file fails with the install command") {
    const fs::path root = test::temp_dir("doctor-data-missing");
    const config::DataSet set = one_file_set(std::string(64, 'a'));
    const CheckResult r = check_data_set(set, root, "/exams/practice");
    CHECK(r.status == Status::fail);
    CHECK(r.name == "data numbers");
    CHECK(contains(r.found, (root / "numbers" / "numbers.csv").string() + " is missing"));
    CHECK(r.fix == "torchexam data /exams/practice");
    fs::remove_all(root);
  }

  TEST_CASE("a data file with the wrong checksum fails naming both hashes") {
    const fs::path root = test::temp_dir("doctor-data-checksum");
    write(root / "numbers" / "numbers.csv", "1,2,3\n");
    const std::string actual = sha256_hex("1,2,3\n");
    const config::DataSet set = one_file_set(std::string(64, 'b'));
    const CheckResult r = check_data_set(set, root, "/exams/practice");
    CHECK(r.status == Status::fail);
    CHECK(contains(r.found, "has sha256 " + actual + ", expected " + std::string(64, 'b')));
    CHECK(r.fix == "torchexam data /exams/practice");
    const CheckResult good = check_data_set(one_file_set(actual), root, "/exams/practice");
    CHECK(good.status == Status::ok);
    CHECK(good.fix.empty());
    fs::remove_all(root);
  }

  TEST_CASE("a missing installed package's data fails with apt-get install") {
    config::DataSet set;
    set.name = "fashion-mnist";
    set.installed = "dataset-fashion-mnist-not-here";
    set.items.push_back({"usr/share/datasets/no-such-folder/train.gz", std::string(64, 'c'), false, {}});
    const CheckResult r = check_data_set(set, "/unused", "/exams/practice");
    CHECK(r.status == Status::fail);
    CHECK(contains(r.found, "/usr/share/datasets/no-such-folder/train.gz is missing"));
    CHECK(contains(r.fix, "apt-get install dataset-fashion-mnist-not-here"));
  }

  TEST_CASE("a LibTorch version the pin does not allow fails with the install step") {
    config::Pins pins;
    pins.libtorch_version = VersionSpec::parse(">=2.1");
    const CheckResult r = check_libtorch_version(pins, {"1.13.1", "Debian package libtorch1.13 1.13.1+dfsg-4"});
    CHECK(r.status == Status::fail);
    CHECK(r.found == "1.13.1 (Debian package libtorch1.13 1.13.1+dfsg-4)");
    CHECK(r.expected == ">=2.1");
    CHECK(contains(r.fix, "install LibTorch >=2.1"));
    CHECK(contains(r.fix, "or correct libtorch.version in environment.yaml"));
  }

  TEST_CASE("a C++ ABI other than the pinned one fails") {
    config::Pins pins;
    pins.cxx11_abi = 0;
    const CheckResult r = check_cxx11_abi(pins, "-D_GLIBCXX_USE_CXX11_ABI=1");
    CHECK(r.status == Status::fail);
    CHECK(contains(r.found, "_GLIBCXX_USE_CXX11_ABI=1"));
    CHECK(r.expected == "_GLIBCXX_USE_CXX11_ABI=0");
    CHECK(contains(r.fix, "Pre-cxx11 ABI"));
  }

  TEST_CASE("a plugin built for another ABI version fails with the rebuild step") {
    const fs::path future = fs::path(TORCHEXAM_TEST_PLUGIN_DIR) / "libtorchexam_test_plugin_future_abi.so";
    const CheckResult r = check_plugin_abi("fashion_mnist", future);
    CHECK(r.status == Status::fail);
    CHECK(r.name == "plugin fashion_mnist");
    CHECK(contains(r.found, "was built for plugin ABI version 99, but this harness speaks version 1"));
    CHECK(contains(r.fix, "rebuild the plugin against this TorchExam SDK"));
    const fs::path real =
        fs::path(TORCHEXAM_TEST_PLUGIN_DIR).parent_path() / "plugins" / "libtorchexam-task-fashion_mnist.so";
    CHECK(check_plugin_abi("fashion_mnist", real).status == Status::ok);
    const CheckResult missing = check_plugin_abi("t", "", "no task plugin named 'nope'");
    CHECK(missing.status == Status::fail);
    CHECK(contains(missing.fix, "cmake --build build"));
  }

  TEST_CASE("an unwritable state folder fails naming the variable to change") {
    const fs::path root = test::temp_dir("doctor-unwritable");
    write(root / "a-file", "not a folder\n");
    const CheckResult r = check_writable("state", root / "a-file" / "state", "TORCHEXAM_STATE_DIR");
    CHECK(r.status == Status::fail);
    CHECK(r.name == "state folder");
    CHECK(contains(r.found, "cannot create it"));
    CHECK(contains(r.fix, "or point TORCHEXAM_STATE_DIR at one"));
    CHECK(check_writable("state", root / "fresh", "TORCHEXAM_STATE_DIR").status == Status::ok);
    fs::remove_all(root);
  }

  // doctor runs before the first `start`: the socket folder it makes must be
  // one the daemon accepts, and it must refuse the one the daemon refuses.
  TEST_CASE("the runtime folder is created private, and a folder others can enter fails as the daemon would") {
    const fs::path root = test::temp_dir("doctor-runtime");
    const fs::path fresh = root / "run" / "torchexam";
    const CheckResult made = check_runtime_dir(fresh);
    CHECK(made.status == Status::ok);
    struct stat st {};
    REQUIRE(::stat(fresh.c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0700);
    CHECK_NOTHROW(paths::ensure_private_dir(fresh));  // what torchexamd checks at start

    const fs::path open_dir = root / "open";
    fs::create_directories(open_dir);
    fs::permissions(open_dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                                  fs::perms::others_read | fs::perms::others_exec);
    const CheckResult r = check_runtime_dir(open_dir);
    CHECK(r.status == Status::fail);
    CHECK(contains(r.found, "mode 755"));
    CHECK(contains(r.fix, "chmod 700"));
    CHECK_THROWS_WITH(paths::ensure_private_dir(open_dir), doctest::Contains("chmod 700"));
    fs::remove_all(root);
  }

  TEST_CASE("a sandbox layer reported missing fails against a floor that requires it") {
    test::ScopedEnv disable("TORCHEXAM_SANDBOX_DISABLE", "seccomp,landlock");
    config::Pins pins;
    pins.sandbox_require = {"rlimits", "seccomp"};
    const CheckResult r = check_sandbox_floor(pins, sandbox::probe_layers());
    CHECK(r.status == Status::fail);
    CHECK(contains(r.found, "seccomp missing (disabled by TORCHEXAM_SANDBOX_DISABLE)"));
    CHECK_FALSE(contains(r.found, "landlock missing"));  // not in the floor
    CHECK(r.expected == "floor: rlimits, seccomp");
    CHECK(contains(r.fix, "seccomp: unset TORCHEXAM_SANDBOX_DISABLE"));
    pins.sandbox_require = {"rlimits"};
    CHECK(check_sandbox_floor(pins, sandbox::probe_layers()).status == Status::ok);
  }

  TEST_CASE("a missing sandbox layer's fix names the mechanism") {
    config::Pins pins;
    pins.sandbox_require = {"cgroup_memory"};
    const CheckResult r =
        check_sandbox_floor(pins, {{"cgroup_memory", false, "no writable cgroup v2 subtree"}, {"rlimits", true, "ok"}});
    CHECK(r.status == Status::fail);
    CHECK(contains(r.fix, "Delegate=yes"));
  }

  TEST_CASE("the toolchain pins: compiler, cmake, cuda") {
    config::Pins pins;
    pins.compiler_id = "clang";
    pins.compiler_version = VersionSpec::parse(">=14");
    const CompilerInfo gcc{"gcc", "12.2.0", "c++ (Debian 12.2.0-14) 12.2.0"};
    const CheckResult other = check_compiler(pins, gcc, "/usr/bin/c++");
    CHECK(other.status == Status::fail);
    CHECK(contains(other.fix, "apt-get install clang"));
    pins.compiler_id = "gcc";
    pins.compiler_version = VersionSpec::parse(">=13");
    CHECK(check_compiler(pins, gcc, "/usr/bin/c++").status == Status::fail);
    pins.compiler_version = VersionSpec::parse(">=12");
    CHECK(check_compiler(pins, gcc, "/usr/bin/c++").status == Status::ok);
    CHECK(check_compiler(pins, std::nullopt, "/usr/bin/c++").status == Status::fail);

    pins.cmake_version = VersionSpec::parse(">=3.25");
    const CheckResult no_cmake = check_cmake(pins, std::nullopt);
    CHECK(no_cmake.status == Status::fail);
    CHECK(no_cmake.fix == "apt-get install cmake");
    CHECK(check_cmake(pins, "3.25.1").status == Status::ok);
    CHECK(check_cmake(pins, "3.18.4").status == Status::fail);

    TorchProbe cpu;
    cpu.ran = cpu.tensor_ok = true;
    pins.cuda = config::Pins::Cuda::required;
    CHECK(check_cuda(pins, cpu).status == Status::fail);
    pins.cuda = config::Pins::Cuda::optional;
    CHECK(check_cuda(pins, cpu).status == Status::warn);
    pins.cuda = config::Pins::Cuda::none;
    CHECK(check_cuda(pins, cpu).status == Status::ok);

    TorchProbe broken;
    broken.error = "exit code 127: error while loading shared libraries: libtorch_cpu.so";
    const CheckResult runs = check_libtorch_runs(broken);
    CHECK(runs.status == Status::fail);
    CHECK(contains(runs.found, "libtorch_cpu.so"));
    CHECK(contains(runs.fix, "apt-get install --reinstall"));
  }

  TEST_CASE("the candidate flags: the compiler accepts the environment's, and one it does not know fails naming it") {
    const fs::path cxx = build_config::kCxx;
    const fs::path yaml = "/exams/practice/environment.yaml";
    const CandidateFlagsProbe good = probe_candidate_flags(system_launcher(), cxx, {"-std=c++17", "-O1"});
    CHECK(good.accepted);
    const CheckResult ok = check_candidate_flags(good, cxx, yaml);
    CHECK(ok.status == Status::ok);
    CHECK(contains(ok.found, "-std=c++17 -O1"));

    const CandidateFlagsProbe bad =
        probe_candidate_flags(system_launcher(), cxx, {"-std=c++17", "-O1", "-fno-such-flag-here"});
    CHECK_FALSE(bad.accepted);
    CHECK(contains(bad.complaint, "-fno-such-flag-here"));
    const CheckResult fail = check_candidate_flags(bad, cxx, yaml);
    CHECK(fail.status == Status::fail);
    CHECK(contains(fail.found, "-fno-such-flag-here"));
    CHECK(contains(fail.fix, yaml.string()));

    CHECK_FALSE(probe_candidate_flags(system_launcher(), cxx, {"-std=c++1000"}).accepted);
  }

  TEST_CASE("BLAS, memory, disk and CPU: what is found against what is needed") {
    const CheckResult reference = check_blas("/usr/lib/x86_64-linux-gnu/blas/libblas.so.3");
    CHECK(reference.status == Status::warn);
    CHECK(contains(reference.found, "reference BLAS: training is 2-8x slower"));
    CHECK(contains(reference.fix,
                   "update-alternatives --set libblas.so.3-x86_64-linux-gnu "
                   "/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3"));
    CHECK(check_blas("/usr/lib/x86_64-linux-gnu/openblas-openmp/libblas.so.3").status == Status::ok);

    config::Pins pins;
    pins.memory_bytes = uint64_t{4} << 30;
    const CheckResult memory = check_memory(pins, "MemTotal: 2097152 kB\nMemAvailable: 1048576 kB\n");
    CHECK(memory.status == Status::fail);
    CHECK(memory.found == "1.0 GiB available of 2.0 GiB");
    CHECK(contains(memory.fix, "free 3.0 GiB"));

    pins.disk_bytes = uint64_t{1} << 62;  // more than any disk here
    const CheckResult disk = check_disk(pins, {fs::temp_directory_path()});
    CHECK(disk.status == Status::fail);
    CHECK(contains(disk.fix, "free "));

    const CheckResult cpu = check_cpu_features("processor: 0\nflags\t\t: fpu sse sse2 avx\n");
    CHECK(cpu.status == Status::warn);
    CHECK(cpu.found == "no avx2, fma");
    CHECK(check_cpu_features("flags : fpu avx2 fma\n").status == Status::ok);
  }

  TEST_CASE("no daemon is a fact to know, not a warning: nothing needs fixing") {
    const CheckResult r = check_daemon(test::temp_dir("doctor-daemon") / "daemon.sock");
    CHECK(r.status == Status::info);
    CHECK(r.fix.empty());
    CHECK(contains(r.found, "starts it on demand"));
    CHECK(passed({r}));
    CHECK(to_line(r).rfind("info  daemon: not running", 0) == 0);
  }

  TEST_CASE("a forecast is stored and read back, and says how much of the budget it needs") {
    Forecast f;
    f.task = "fashion_mnist";
    f.samples_per_s = 4100;
    f.reference_s = 70;
    f.budget_s = 600;
    f.exam_s = 5 * 3600;
    f.threads = 2;
    f.cpus = 2;
    f.load_before = 0.3;
    CHECK(describe(f) ==
          "task fashion_mnist: 4100 samples/s on 2 thread(s); reference needs about 70 s of its 10 min budget");
    CHECK(check_forecast(f).status == Status::ok);
    Forecast over = f;
    over.reference_s = 900;
    CHECK(check_forecast(over).status == Status::warn);
    CHECK(contains(check_forecast(over).fix, "slower than the task was calibrated for"));
    // Measured while other work ran: said, and the fix is to measure again.
    Forecast busy = over;
    busy.load_before = 3.1;
    CHECK(busy.busy());
    CHECK(contains(describe(busy), "the machine was busy while measuring (load 3.1 on 2 CPUs)"));
    CHECK(contains(check_forecast(busy).fix, "measure again when the machine is idle"));
    Forecast broken = f;
    broken.error = "the reference does not build";
    CHECK(check_forecast(broken).status == Status::fail);

    const fs::path file = forecast_file(test::temp_dir("doctor-forecast"), "practice");
    store_forecasts(file, {f, over});
    const auto back = load_forecasts(file);
    REQUIRE(back.size() == 2);
    CHECK(back[0].task == "fashion_mnist");
    CHECK(back[0].samples_per_s == doctest::Approx(4100));
    CHECK(back[1].reference_s == doctest::Approx(900));
    CHECK(back[1].cpus == 2);
    CHECK(back[1].load_before == doctest::Approx(0.3));
    CHECK(load_forecasts(file.parent_path() / "none.json").empty());
    fs::remove_all(file.parent_path().parent_path());
  }

  TEST_CASE("the --json report: every check, and each forecast's fields followed by its verdict") {
    config::Environment env;
    env.dir = "/envs/practice";
    Forecast f;
    f.task = "fashion_mnist";
    f.samples_per_s = 4100;
    f.reference_s = 900;
    f.budget_s = 600;
    f.threads = 2;
    f.cpus = 2;
    const CheckResult warn{"cpu", Status::warn, "no avx2", "avx2", "none needed"};
    const Report r = make_report(env, {warn}, {f});
    CHECK(r.ok);
    REQUIRE(r.forecasts.size() == 1);
    CHECK(r.forecasts[0].check == check_forecast(f));

    namespace json = boost::json;
    const json::object v = json::value_from(r).as_object();
    std::vector<std::string> keys;
    for (const auto& [k, x] : v) keys.emplace_back(k);
    CHECK(keys == std::vector<std::string>{"environment", "ok", "checks", "forecasts"});
    CHECK(v.at("environment").as_string() == "/envs/practice");
    CHECK(v.at("ok").as_bool());
    CHECK(json::serialize(v.at("checks")) == json::serialize(json::array{json::value_from(warn)}));
    // The forecast as stored, then its verdict like every check's.
    json::object expected = json::value_from(f).as_object();
    expected["status"] = "warn";
    expected["found"] = check_forecast(f).found;
    expected["fix"] = check_forecast(f).fix;
    const json::object& written = v.at("forecasts").at(0).as_object();
    CHECK(json::serialize(written) == json::serialize(expected));
    CHECK_FALSE(written.contains("expected"));

    // A failed check makes the report not ok; bytes that are not UTF-8 are replaced.
    const Report failed =
        make_report(env, {{"compiler", Status::fail, "g++ \xff", "g++ 12", "apt-get install g++"}}, {});
    CHECK_FALSE(failed.ok);
    const json::value text = json::parse(json::serialize(json::value_from(failed)));
    CHECK(text.at("checks").at(0).at("found").as_string() == "g++ \uFFFD");
    CHECK(text.at("forecasts").as_array().empty());
  }

  TEST_CASE("a check's line says status, found, expected and fix") {
    const CheckResult r{"data auto-mpg", Status::fail, "cars.json is missing", "1 item(s)", "torchexam data ENV"};
    CHECK(to_line(r) == "fail  data auto-mpg: cars.json is missing; expected 1 item(s); fix: torchexam data ENV");
    CHECK_FALSE(passed({r}));
    CHECK(passed({{"cpu", Status::warn, "no avx2", "avx2", "none needed"}}));
  }
}
