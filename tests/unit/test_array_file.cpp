// The staged array file (sandbox/array_file.hpp) and the staged task
// directory (harness/grading/staging.hpp): round trips for every dtype, and corrupt,
// truncated and hostile files, which must give a clear error and never crash.
#include <doctest/doctest.h>

#include "base/hash.hpp"
#include "grading/staging.hpp"
#include "plugin_test_util.hpp"
#include "sandbox/array_file.hpp"
#include "sandbox/staged_task.hpp"

#include <torchexam/plugin.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {

namespace fs = std::filesystem;
using torchexam::Array;
using torchexam::sandbox::ArrayFileError;
using torchexam::sandbox::MappedArrayFile;
using torchexam::sandbox::write_array_file;
using torchexam::test::temp_dir;

std::string read_bytes(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const fs::path& p, const std::string& s) { std::ofstream(p, std::ios::binary | std::ios::trunc) << s; }

template <class T>
void round_trip(const fs::path& dir, int32_t dtype, std::vector<T> values, std::vector<int64_t> shape) {
  const std::string dtype_text = torchexam::dtype_name(dtype);
  CAPTURE(dtype_text);
  CAPTURE(shape.size());
  const auto path = dir / "a.arr";
  Array a(Array::from_vector(values, dtype, shape));
  write_array_file(path, a.get());
  auto m = MappedArrayFile::open(path);
  CHECK(m->dtype() == dtype);
  CHECK(m->shape() == shape);
  CHECK(m->bytes() == values.size() * sizeof(T));
  if (!values.empty()) {
    REQUIRE(m->data() != nullptr);
    CHECK(reinterpret_cast<uintptr_t>(m->data()) % torchexam::sandbox::kArrayFileAlignment == 0);
    CHECK(std::memcmp(m->data(), values.data(), values.size() * sizeof(T)) == 0);
  }
  CHECK(fs::file_size(path) == torchexam::sandbox::kArrayFileHeaderBytes + values.size() * sizeof(T));
}

// Opening `bytes` as an array file fails with a message containing `why`
// and the file's name.
void rejects(const fs::path& dir, const std::string& bytes, const std::string& why) {
  CAPTURE(why);
  const auto path = dir / "bad.arr";
  write_bytes(path, bytes);
  try {
    MappedArrayFile::open(path);
    FAIL("a malformed file was accepted");
  } catch (const ArrayFileError& e) {
    const std::string msg = e.what();
    CAPTURE(msg);
    CHECK(msg.find(path.string()) != std::string::npos);
    CHECK(msg.find(why) != std::string::npos);
  }
}

template <class T>
void put(std::string& s, size_t offset, T v) {
  std::memcpy(s.data() + offset, &v, sizeof v);
}

}  // namespace

TEST_SUITE("array_file") {
  TEST_CASE("every dtype round-trips, at every rank, empty arrays too") {
    const auto dir = temp_dir("array-file");
    round_trip<float>(dir, TORCHEXAM_DTYPE_FLOAT32, {1.5f, -2.f, 3.25f, 0.f, 1e30f, -0.f}, {2, 3});
    round_trip<int64_t>(dir, TORCHEXAM_DTYPE_INT64, {1, -2, INT64_MAX, INT64_MIN}, {4});
    round_trip<uint8_t>(dir, TORCHEXAM_DTYPE_UINT8, {0, 1, 2, 255, 7, 9, 11, 13}, {2, 1, 2, 2});
    round_trip<float>(dir, TORCHEXAM_DTYPE_FLOAT32, {}, {0, 28, 28});
    round_trip<uint8_t>(dir, TORCHEXAM_DTYPE_UINT8, {42}, {});  // a scalar
    round_trip<float>(dir, TORCHEXAM_DTYPE_FLOAT32, std::vector<float>(512, 0.5f), {1, 2, 2, 2, 2, 2, 2, 8});
    fs::remove_all(dir);
  }

  TEST_CASE("the mapping is private: writing through it never changes the file") {
    const auto dir = temp_dir("array-file-cow");
    Array a(Array::from_vector(std::vector<float>{1, 2, 3}, TORCHEXAM_DTYPE_FLOAT32, {3}));
    write_array_file(dir / "a.arr", a.get());
    const std::string before = read_bytes(dir / "a.arr");
    {
      auto m = MappedArrayFile::open(dir / "a.arr");
      static_cast<float*>(m->data())[0] = 99;
    }
    CHECK(read_bytes(dir / "a.arr") == before);
    fs::remove_all(dir);
  }

  TEST_CASE("writing a bad array fails with a message and leaves no file") {
    const auto dir = temp_dir("array-file-write");
    torchexam_array a{};
    a.dtype = 77;
    a.ndim = 1;
    a.shape[0] = 1;
    CHECK_THROWS_WITH_AS(write_array_file(dir / "x.arr", a), doctest::Contains("unknown dtype 77"), ArrayFileError);
    a.dtype = TORCHEXAM_DTYPE_FLOAT32;
    a.shape[0] = -3;
    CHECK_THROWS_WITH_AS(write_array_file(dir / "x.arr", a), doctest::Contains("negative"), ArrayFileError);
    CHECK(fs::is_empty(dir));
    CHECK_THROWS_WITH_AS(write_array_file(dir / "missing" / "x.arr", a), doctest::Contains("x.arr"), ArrayFileError);
    fs::remove_all(dir);
  }

  TEST_CASE("corrupt, truncated and hostile files give a clear error, never a crash") {
    const auto dir = temp_dir("array-file-bad");
    Array a(Array::from_vector(std::vector<int64_t>{1, 2, 3, 4, 5, 6}, TORCHEXAM_DTYPE_INT64, {2, 3}));
    write_array_file(dir / "good.arr", a.get());
    const std::string good = read_bytes(dir / "good.arr");
    REQUIRE(good.size() == 128 + 48);

    CHECK_THROWS_WITH_AS(MappedArrayFile::open(dir / "nope.arr"), doctest::Contains("cannot open"), ArrayFileError);
    rejects(dir, "", "truncated header");
    rejects(dir, good.substr(0, 100), "truncated header");
    rejects(dir, good.substr(0, 128), "truncated data");
    rejects(dir, good.substr(0, good.size() - 1), "truncated data");
    rejects(dir, good + "x", "trailing bytes");
    rejects(dir, std::string(good.size(), '\0'), "bad magic");
    {
      auto s = good;
      put<uint32_t>(s, 8, 2);
      rejects(dir, s, "format version 2");
    }
    {
      auto s = good;
      put<int32_t>(s, 12, 9);
      rejects(dir, s, "unknown dtype 9");
    }
    {
      auto s = good;
      put<int32_t>(s, 16, 9);
      rejects(dir, s, "dimension count 9");
    }
    {
      auto s = good;
      put<int32_t>(s, 16, -1);
      rejects(dir, s, "dimension count -1");
    }
    {
      auto s = good;
      put<int64_t>(s, 24, -2);
      rejects(dir, s, "negative");
    }
    {  // sizes whose product overflows 64 bits
      auto s = good;
      put<int64_t>(s, 24, int64_t{1} << 40);
      put<int64_t>(s, 32, int64_t{1} << 40);
      rejects(dir, s, "more than 1 TiB");
    }
    {  // a shape that does not match the declared data size
      auto s = good;
      put<int64_t>(s, 32, 4);
      rejects(dir, s, "needs 64");
    }
    {
      auto s = good;
      put<int64_t>(s, 24 + 8 * 5, 3);
      rejects(dir, s, "unused dimension 5");
    }
    {
      auto s = good;
      put<uint64_t>(s, 88, 129);
      rejects(dir, s, "data offset 129");
    }
    {
      auto s = good;
      put<uint64_t>(s, 88, 64);
      rejects(dir, s, "data offset 64");
    }
    {  // a huge offset must not wrap around
      auto s = good;
      put<uint64_t>(s, 88, ~uint64_t{63});
      rejects(dir, s, "truncated data");
    }
    {
      auto s = good;
      put<uint64_t>(s, 96, 47);
      rejects(dir, s, "declares 47 data bytes");
    }
    // Every truncation and every single-byte flip of the header: an error
    // or a valid array, never a crash.
    for (size_t n = 0; n < good.size(); ++n) {
      write_bytes(dir / "cut.arr", good.substr(0, n));
      CHECK_THROWS_AS(MappedArrayFile::open(dir / "cut.arr"), ArrayFileError);
    }
    for (size_t i = 0; i < 128; ++i)
      for (unsigned char flip : {0x01, 0x80, 0xff}) {
        auto s = good;
        s[i] = static_cast<char>(static_cast<unsigned char>(s[i]) ^ flip);
        write_bytes(dir / "flip.arr", s);
        try {
          auto m = MappedArrayFile::open(dir / "flip.arr");
          CHECK(m->bytes() <= fs::file_size(dir / "flip.arr"));
        } catch (const ArrayFileError&) {
        }
      }
    fs::create_directories(dir / "a-folder.arr");
    CHECK_THROWS_AS(MappedArrayFile::open(dir / "a-folder.arr"), ArrayFileError);
    fs::remove_all(dir);
  }

  TEST_CASE("task.json round-trips and a malformed one names the file and the field") {
    const auto dir = temp_dir("task-spec");
    torchexam::sandbox::TaskSpec s;
    s.name = "fashion_mnist";
    s.title = "Fashion \"MNIST\"";
    s.input = {TORCHEXAM_DTYPE_FLOAT32, 4, {-1, 1, 28, 28}};
    s.output = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, 10}};
    s.target = {TORCHEXAM_DTYPE_INT64, 1, {-1}};
    s.metric_name = "accuracy";
    s.higher_is_better = true;
    s.train_samples = 60000;
    s.test_samples = 10000;
    s.evaluation = {1, true};
    s.key = "abc";
    torchexam::sandbox::write_task_spec(dir / "task.json", s);
    auto r = torchexam::sandbox::read_task_spec(dir / "task.json");
    CHECK(r.name == s.name);
    CHECK(r.title == s.title);
    CHECK(torchexam::spec_string(r.input) == "[N, 1, 28, 28] float32");
    CHECK(torchexam::spec_string(r.output) == "[N, 10] float32");
    CHECK(torchexam::spec_string(r.target) == "[N] int64");
    CHECK(r.metric_name == "accuracy");
    CHECK(r.higher_is_better);
    CHECK(r.train_samples == 60000);
    CHECK(r.test_samples == 10000);
    CHECK(r.key == "abc");
    CHECK(r.evaluation.max_batch == 1);
    CHECK(r.evaluation.in_order);
    s.evaluation = {};
    torchexam::sandbox::write_task_spec(dir / "task.json", s);
    CHECK(torchexam::sandbox::read_task_spec(dir / "task.json").evaluation == torchexam::sandbox::EvaluationPolicy{});

    write_bytes(dir / "task.json", "{\"format\":1,");
    CHECK_THROWS_WITH_AS(torchexam::sandbox::read_task_spec(dir / "task.json"), doctest::Contains("not JSON"),
                         torchexam::sandbox::StagedTaskError);
    auto text = read_bytes(dir / "task.json");
    torchexam::sandbox::write_task_spec(dir / "task.json", s);
    text = read_bytes(dir / "task.json");
    auto pos = text.find("\"float32\"");
    write_bytes(dir / "task.json", text.substr(0, pos) + "\"float16\"" + text.substr(pos + 9));
    CHECK_THROWS_WITH_AS(torchexam::sandbox::read_task_spec(dir / "task.json"),
                         doctest::Contains("input: unknown dtype 'float16'"), torchexam::sandbox::StagedTaskError);
    fs::remove_all(dir);
  }

  TEST_CASE("a task.json from before the evaluation policy means any batching; format 2 must carry it") {
    const auto dir = temp_dir("task-spec-format");
    // Exactly what the stager wrote before task.json carried "evaluation".
    const std::string format1 =
        R"({"format":1,"name":"time_series","title":"Mauna Loa CO2 forecast, 13 weeks ahead",)"
        R"("input":{"dtype":"float32","shape":[-1,104,1]},"output":{"dtype":"float32","shape":[-1,13]},)"
        R"("target":{"dtype":"float32","shape":[-1,13]},"metric_name":"mae","higher_is_better":false,)"
        R"("train_samples":1711,"test_samples":445,"key":"k"})";
    write_bytes(dir / "task.json", format1 + "\n");
    const auto old = torchexam::sandbox::read_task_spec(dir / "task.json");
    CHECK(old.name == "time_series");
    CHECK(old.test_samples == 445);
    CHECK(old.evaluation.max_batch == 0);
    CHECK_FALSE(old.evaluation.in_order);

    auto format2 = format1;
    format2.replace(format2.find("\"format\":1"), 10, "\"format\":2");
    write_bytes(dir / "task.json", format2);
    CHECK_THROWS_WITH_AS(torchexam::sandbox::read_task_spec(dir / "task.json"),
                         doctest::Contains("missing field 'evaluation'"), torchexam::sandbox::StagedTaskError);
    const auto with = [&](const std::string& evaluation) {
      write_bytes(dir / "task.json", format2.substr(0, format2.size() - 1) + R"(,"evaluation":)" + evaluation + "}");
    };
    with(R"({"max_batch":1,"in_order":true})");
    CHECK(torchexam::sandbox::read_task_spec(dir / "task.json").evaluation ==
          torchexam::sandbox::EvaluationPolicy{1, true});
    with(R"({"max_batch":-1,"in_order":true})");
    CHECK_THROWS_WITH_AS(torchexam::sandbox::read_task_spec(dir / "task.json"),
                         doctest::Contains("evaluation: field 'max_batch' must be a whole number"),
                         torchexam::sandbox::StagedTaskError);
    with(R"({"max_batch":1,"in_order":1})");
    CHECK_THROWS_WITH_AS(torchexam::sandbox::read_task_spec(dir / "task.json"),
                         doctest::Contains("evaluation: field 'in_order' must be true or false"),
                         torchexam::sandbox::StagedTaskError);
    with("1");
    CHECK_THROWS_WITH_AS(torchexam::sandbox::read_task_spec(dir / "task.json"),
                         doctest::Contains("field 'evaluation' must be an object"), torchexam::sandbox::StagedTaskError);
    write_bytes(dir / "task.json", R"({"format":3})");
    CHECK_THROWS_WITH_AS(torchexam::sandbox::read_task_spec(dir / "task.json"),
                         doctest::Contains("unknown format (this runner reads 1 and 2)"),
                         torchexam::sandbox::StagedTaskError);
    fs::remove_all(dir);
  }

  TEST_CASE("staging carries the plugin's evaluation policy into task.json; an old plugin's is any") {
    const auto dir = temp_dir("staging-evaluation");
    torchexam::StageRequest req;
    req.plugin = fs::path(TORCHEXAM_TEST_PLUGIN_DIR) / "libtorchexam_test_plugin_abi_v1_without_evaluation.so";
    req.cache_dir = dir / "cache";
    const auto old = torchexam::stage_task(req);
    CHECK(old.spec.test_samples == 3);
    CHECK(torchexam::sandbox::read_task_spec(old.spec_file()).evaluation == torchexam::sandbox::EvaluationPolicy{});

    // A weekly series of 300 weeks, enough for time_series' windows.
    std::string csv = "date,co2\n";
    std::chrono::sys_days day = std::chrono::sys_days{std::chrono::year{1958} / 3 / 29};
    for (int i = 0; i < 300; ++i, day += std::chrono::days{7}) {
      const std::chrono::year_month_day ymd{day};
      char line[64];
      std::snprintf(line, sizeof line, "%04d%02u%02u,%.3f\n", static_cast<int>(ymd.year()),
                    static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), 300 + i / 8.0);
      csv += line;
    }
    fs::create_directories(dir / "co2");
    write_bytes(dir / "co2" / "co2.csv", csv);
    req.plugin = torchexam::test::open_task_plugin("time_series")->path();
    req.options = {{"data_dir", (dir / "co2").string()}};
    const auto series = torchexam::stage_task(req);
    CHECK(series.spec.evaluation == torchexam::sandbox::EvaluationPolicy{1, true});
    CHECK(torchexam::sandbox::read_task_spec(series.spec_file()).evaluation ==
          torchexam::sandbox::EvaluationPolicy{1, true});
    const auto again = torchexam::stage_task(req);
    CHECK(again.cached);
    CHECK(again.spec.evaluation == torchexam::sandbox::EvaluationPolicy{1, true});
    fs::remove_all(dir);
  }

  TEST_CASE("staging writes the training split and the test inputs, never test labels, and is reused") {
    const auto dir = temp_dir("staging");
    torchexam::test::write_fashion_like(dir / "data", 40, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8});
    torchexam::StageRequest req;
    req.plugin = torchexam::test::open_task_plugin("fashion_mnist")->path();
    req.options = {{"data_dir", (dir / "data").string()}};
    req.cache_dir = dir / "cache";

    // Two stagers of the same key at once: both succeed, one entry stays.
    torchexam::StagedTask a, b;
    std::thread other([&] { b = torchexam::stage_task(req); });
    a = torchexam::stage_task(req);
    other.join();
    CHECK(a.dir == b.dir);
    CHECK(a.key == b.key);
    int entries = 0;
    for (const auto& e : fs::directory_iterator(dir / "cache" / "staged")) {
      CAPTURE(e.path());
      if (e.path().extension() == ".lock") {  // the key's lock file stays (removing it would race)
        CHECK(e.path() == fs::path(a.dir.string() + ".lock"));
        CHECK(e.is_regular_file());
        continue;
      }
      CHECK(e.path() == a.dir);  // no temporary folder left behind
      ++entries;
    }
    CHECK(entries == 1);

    CHECK(a.spec.train_samples == 40);
    CHECK(a.spec.test_samples == 12);
    CHECK(torchexam::spec_string(a.spec.output) == "[N, 10] float32");
    auto x = MappedArrayFile::open(a.train_inputs());
    auto y = MappedArrayFile::open(a.train_targets());
    auto t = MappedArrayFile::open(a.evaluate_inputs());
    CHECK(x->shape() == std::vector<int64_t>{40, 1, 28, 28});
    CHECK(y->shape() == std::vector<int64_t>{40});
    CHECK(y->dtype() == TORCHEXAM_DTYPE_INT64);
    CHECK(t->shape() == std::vector<int64_t>{12, 1, 28, 28});
    {  // Byte for byte what the plugin returns, so grading sees the same data as before.
      auto task = torchexam::test::open_task_plugin("fashion_mnist")->create(req.options);
      auto [px, py] = task.train_split();
      auto pt = task.test_inputs();
      CHECK(std::memcmp(x->data(), px.get().data, x->bytes()) == 0);
      CHECK(std::memcmp(y->data(), py.get().data, y->bytes()) == 0);
      CHECK(std::memcmp(t->data(), pt.get().data, t->bytes()) == 0);
    }
    // The evaluate folder holds the test inputs and nothing else.
    std::vector<std::string> eval_files;
    for (const auto& e : fs::directory_iterator(a.dir / "evaluate")) eval_files.push_back(e.path().filename());
    CHECK(eval_files == std::vector<std::string>{"inputs.arr"});

    auto again = torchexam::stage_task(req);
    CHECK(again.cached);
    CHECK(again.dir == a.dir);

    // Another option (--limit) or other data is another entry.
    auto limited_req = req;
    limited_req.options["limit"] = "10";
    auto limited = torchexam::stage_task(limited_req);
    CHECK_FALSE(limited.cached);
    CHECK(limited.dir != a.dir);
    CHECK(limited.spec.train_samples == 10);
    torchexam::test::write_fashion_like(dir / "data", 41, {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 9, 8});
    CHECK(torchexam::staging_key(req) != a.key);

    // A plugin failure is an error naming the plugin, and leaves no entry.
    auto broken = req;
    broken.options["data_dir"] = (dir / "nowhere").string();
    CHECK_THROWS_AS(torchexam::stage_task(broken), torchexam::PluginError);
    int after = 0;
    for (const auto& e : fs::directory_iterator(dir / "cache" / "staged")) after += e.path().filename().string().find(".tmp-") != std::string::npos;
    CHECK(after == 0);
    fs::remove_all(dir);
  }

  TEST_CASE("a cancelled staging stages nothing, also while it waits for another stager's lock") {
    const auto dir = temp_dir("staging-cancel");
    torchexam::test::write_fashion_like(dir / "data", 20, {0, 1, 2, 3});
    torchexam::StageRequest req;
    req.plugin = torchexam::test::open_task_plugin("fashion_mnist")->path();
    req.options = {{"data_dir", (dir / "data").string()}};
    req.cache_dir = dir / "cache";
    std::atomic<bool> cancel{true};
    req.cancel = &cancel;
    const auto before = torchexam::stage_task(req);
    CHECK(before.cancelled);
    CHECK_FALSE(fs::exists(before.dir));

    // Another stager of the same key holds its lock; the cancel ends the wait.
    cancel = false;
    const std::string key = torchexam::staging_key(req);
    fs::create_directories(dir / "cache" / "staged");
    torchexam::StagedTask waited;
    {
      const torchexam::FileLock other((dir / "cache" / "staged" / (key.substr(0, 32) + ".lock")));
      std::thread stager([&] { waited = torchexam::stage_task(req); });
      cancel = true;
      stager.join();
    }
    CHECK(waited.cancelled);
    CHECK_FALSE(fs::exists(waited.dir));

    cancel = false;
    const auto staged = torchexam::stage_task(req);
    CHECK_FALSE(staged.cancelled);
    CHECK(staged.spec.train_samples == 20);
    fs::remove_all(dir);
  }
}
