// The regression task plugin (Auto-MPG): its contract, its split of the real
// data set, its scoring, and its JSON reader's errors, on the installed
// cars.json and on small files the tests write.
#include <doctest/doctest.h>

#include "grading/task_diagnostics.hpp"
#include "plugin_test_util.hpp"
#include <torchexam/plugin.hpp>

#include <boost/json.hpp>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kFeatures = 9;
constexpr int64_t kWeightColumn = 3;

std::shared_ptr<torchexam::PluginLibrary> open_plugin() { return torchexam::test::open_task_plugin("regression"); }

fs::path real_data_dir() { return torchexam::test::installed_data_dir("auto-mpg"); }

using torchexam::test::temp_dir;

void write_file(const fs::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A cars.json of n complete rows plus two incomplete ones. Row i weighs
// 2000 + i lbs and does 10.125 + 0.25 i mpg, a value no feature ever takes,
// so a test can compute the truth from the inputs and look for leaks.
std::string synthetic_cars(int n) {
  const char* origins[] = {"USA", "Europe", "Japan"};
  std::string s = "[\n";
  for (int i = 0; i < n; ++i) {
    s += "  {\"Name\": \"car \\\"" + std::to_string(i) +
         "\\\" caf\\u00e9\", \"Miles_per_Gallon\": " + std::to_string(10.125 + 0.25 * i) +
         ", \"Cylinders\": 4, \"Displacement\": " + std::to_string(100 + i) +
         ", \"Horsepower\": " + std::to_string(50 + i) + ", \"Weight_in_lbs\": " + std::to_string(2000 + i) +
         ", \"Acceleration\": 15.5, \"Year\": \"1975-01-01\", \"Origin\": \"" + origins[i % 3] + "\"},\n";
  }
  s += "  {\"Name\": \"no mpg\", \"Miles_per_Gallon\": null, \"Cylinders\": 4, \"Displacement\": 90, "
       "\"Horsepower\": 70, \"Weight_in_lbs\": 1900, \"Acceleration\": 14, \"Year\": \"1971-01-01\", "
       "\"Origin\": \"USA\"},\n";
  s += "  {\"Name\": \"no hp\", \"Miles_per_Gallon\": 30, \"Cylinders\": 4, \"Displacement\": 90, "
       "\"Horsepower\": null, \"Weight_in_lbs\": 1900, \"Acceleration\": 1.4e1, \"Year\": \"1971-01-01\", "
       "\"Origin\": \"Japan\"}\n]\n";
  return s;
}

std::vector<float> values(const torchexam::Array& a) {
  const auto* p = static_cast<const float*>(a.get().data);
  return {p, p + a.numel()};
}

std::string create_error(const torchexam::PluginLibrary& lib, const std::map<std::string, std::string>& options) {
  try {
    lib.create(options);
  } catch (const torchexam::PluginError& e) {
    return e.what();
  }
  return "";
}

// The error of loading the training split from a cars.json holding `text`.
std::string load_error(const std::string& text) {
  const auto dir = temp_dir("regression-bad");
  write_file(dir / "cars.json", text);
  auto lib = open_plugin();
  auto task = lib->create({{"data_dir", dir.string()}});
  std::string msg;
  try {
    task.train_split();
  } catch (const torchexam::PluginError& e) {
    msg = e.what();
  }
  fs::remove_all(dir);
  return msg;
}

}  // namespace

TEST_SUITE("regression") {
  TEST_CASE("regression describes its task and checks its options") {
    auto lib = open_plugin();
    CHECK(lib->name() == "regression");
    auto task = lib->create({{"data_dir", "/nonexistent"}});
    const auto& info = task.info();
    CHECK(std::string(info.name) == "regression");
    CHECK(std::string(info.metric_name) == "mae");
    CHECK(info.higher_is_better == 0);
    CHECK(torchexam::spec_string(info.input) == "[N, 9] float32");
    CHECK(torchexam::spec_string(info.output) == "[N, 1] float32");
    CHECK(torchexam::spec_string(info.target) == "[N, 1] float32");

    const std::string missing = create_error(*lib, {});
    CHECK(missing.find("option data_dir is required") != std::string::npos);
    CHECK(missing.find("torchexam data") != std::string::npos);
    CHECK(create_error(*lib, {{"data_dir", "/x"}, {"limt", "3"}}).find("unknown plugin option 'limt'") !=
          std::string::npos);
    CHECK(create_error(*lib, {{"data_dir", "/x"}, {"limit", "3x"}}).find("limit='3x' is not a whole number") !=
          std::string::npos);

    try {
      task.test_inputs();
      FAIL("a missing file was read");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("cannot open /nonexistent/cars.json") != std::string::npos);
      CHECK(std::string(e.what()).find("torchexam data") != std::string::npos);
    }
  }

  TEST_CASE("the real Auto-MPG data splits 314/78, the same every time, without overlap") {
    const fs::path dir = real_data_dir();
    if (!fs::exists(dir / "cars.json")) {
      FAIL("the auto-mpg data set is not installed in " << dir.string()
                                                                    << " (torchexam data environments/practice)");
      return;
    }
    auto lib = open_plugin();
    auto a = lib->create({{"data_dir", dir.string()}});
    auto b = lib->create({{"data_dir", dir.string()}});
    auto [x, y] = a.train_split();
    auto [x2, y2] = b.train_split();
    torchexam::Array t = a.test_inputs(), t2 = b.test_inputs();
    REQUIRE(x.shape() == std::vector<int64_t>{314, kFeatures});
    REQUIRE(y.shape() == std::vector<int64_t>{314, 1});
    REQUIRE(t.shape() == std::vector<int64_t>{78, kFeatures});
    CHECK(values(x) == values(x2));
    CHECK(values(y) == values(y2));
    CHECK(values(t) == values(t2));

    // No car is in both parts (the 392 complete rows have distinct features).
    auto rows = [](const torchexam::Array& arr) {
      const auto v = values(arr);
      std::set<std::vector<float>> out;
      for (size_t i = 0; i < v.size(); i += kFeatures)
        out.emplace(v.begin() + static_cast<std::ptrdiff_t>(i), v.begin() + static_cast<std::ptrdiff_t>(i + kFeatures));
      return out;
    };
    const auto train_rows = rows(x), test_rows = rows(t);
    CHECK(train_rows.size() == 314);
    CHECK(test_rows.size() == 78);
    for (const auto& r : test_rows) CHECK(train_rows.count(r) == 0);

    // The first car in the file, in the documented feature order.
    const auto xv = values(x);
    CHECK(std::vector<float>(xv.begin(), xv.begin() + kFeatures) ==
          std::vector<float>{8, 307, 130, 3504, 12, 1970, 1, 0, 0});
    CHECK(values(y)[0] == 18.0f);

    // Predicting the training mean: the "no model" baseline of task.yaml.
    double mean = 0;
    for (float v : values(y)) mean += v;
    mean /= 314;
    torchexam::Array p(torchexam::Array::from_vector(std::vector<float>(78, static_cast<float>(mean)),
                                                     TORCHEXAM_DTYPE_FLOAT32, {78, 1}));
    CHECK(a.score(p.get()) == doctest::Approx(7.0928).epsilon(1e-4));

    auto limited = lib->create({{"data_dir", dir.string()}, {"limit", "10"}});
    CHECK(limited.train_split().first.shape() == std::vector<int64_t>{10, kFeatures});
    CHECK(limited.test_inputs().shape() == std::vector<int64_t>{10, kFeatures});
  }

  TEST_CASE("regression scores MAE, refuses a wrong shape, and never hands out test targets") {
    const auto dir = temp_dir("regression");
    write_file(dir / "cars.json", synthetic_cars(40));
    auto lib = open_plugin();
    auto task = lib->create({{"data_dir", dir.string()}});
    auto [x, y] = task.train_split();
    torchexam::Array t = task.test_inputs();
    REQUIRE(x.shape() == std::vector<int64_t>{32, kFeatures});  // the two rows with a null are dropped
    REQUIRE(t.shape() == std::vector<int64_t>{8, kFeatures});

    std::vector<float> truth;
    const auto tv = values(t);
    for (int64_t i = 0; i < 8; ++i)
      truth.push_back(10.125f + 0.25f * (tv[static_cast<size_t>(i * kFeatures + kWeightColumn)] - 2000));
    torchexam::Array perfect(torchexam::Array::from_vector(truth, TORCHEXAM_DTYPE_FLOAT32, {8, 1}));
    CHECK(task.score(perfect.get()) == 0.0);
    std::vector<float> off = truth;
    for (size_t i = 0; i < off.size(); ++i) off[i] += (i % 2 ? 1.5f : -1.5f);
    torchexam::Array shifted(torchexam::Array::from_vector(off, TORCHEXAM_DTYPE_FLOAT32, {8, 1}));
    CHECK(task.score(shifted.get()) == doctest::Approx(1.5));

    // The training targets follow the same rule.
    const auto xv = values(x), yv = values(y);
    int rule_broken = 0;
    for (size_t i = 0; i < yv.size(); ++i)
      rule_broken += yv[i] != 10.125f + 0.25f * (xv[i * kFeatures + kWeightColumn] - 2000);
    CHECK(rule_broken == 0);

    // No hidden target appears in anything the sandboxed calls return.
    int leaks = 0;
    for (float target : truth)
      for (const auto* returned : {&xv, &yv, &tv})
        for (float v : *returned) leaks += v == target;
    CHECK(leaks == 0);

    torchexam::Array wrong(torchexam::Array::from_vector(std::vector<float>(8), TORCHEXAM_DTYPE_FLOAT32, {8}));
    try {
      task.score(wrong.get());
      FAIL("a wrong shape was scored");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("predictions must be [8, 1] float32, got [8] float32") != std::string::npos);
    }
    torchexam::Array too_few(torchexam::Array::from_vector(std::vector<float>(7), TORCHEXAM_DTYPE_FLOAT32, {7, 1}));
    CHECK_THROWS_WITH_AS(task.score(too_few.get()), doctest::Contains("got [7, 1] float32"), torchexam::PluginError);
    fs::remove_all(dir);
  }

  TEST_CASE("regression diagnostics: the MAE per decile of the hidden mpg values, and the residuals") {
    const auto dir = temp_dir("regression-diagnostics");
    write_file(dir / "cars.json", synthetic_cars(250));
    auto task = open_plugin()->create({{"data_dir", dir.string()}});
    const torchexam::Array t = task.test_inputs();
    REQUIRE(t.shape() == std::vector<int64_t>{50, kFeatures});
    std::vector<float> truth;
    const auto tv = values(t);
    for (int64_t i = 0; i < 50; ++i)
      truth.push_back(10.125f + 0.25f * (tv[static_cast<size_t>(i * kFeatures + kWeightColumn)] - 2000));
    // The sample of rank r by mpg is off by r / 5 + 1, up and down in turn:
    // decile g (ranks 5g .. 5g+4) has MAE g + 1.
    std::vector<size_t> order(truth.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return truth[a] < truth[b]; });
    std::vector<float> predicted = truth;
    for (size_t r = 0; r < order.size(); ++r) {
      const auto error = static_cast<float>(r / 5 + 1);
      predicted[order[r]] += r % 2 ? error : -error;
    }
    torchexam::Array p(torchexam::Array::from_vector(predicted, TORCHEXAM_DTYPE_FLOAT32, {50, 1}));
    const torchexam::Scored s = task.score_with_diagnostics(p.get());
    CHECK(s.metric == doctest::Approx(5.5));
    CHECK(task.score(p.get()) == s.metric);
    const auto d = boost::json::value_to<torchexam::TaskDiagnostics>(boost::json::parse(s.diagnostics_json));
    REQUIRE(d.regression);
    const auto& ranges = d.regression->by_target_range;
    REQUIRE(ranges.size() == 10);
    for (size_t g = 0; g < 10; ++g) {
      CAPTURE(g);
      CHECK(ranges[g].count == 5);
      CHECK(ranges[g].mae == doctest::Approx(g + 1.0));
      CHECK(ranges[g].low == truth[order[5 * g]]);
      CHECK(ranges[g].high == truth[order[5 * g + 4]]);
    }
    // Residuals up to 10 mpg: 20 bins over [-10, 10], every test row counted.
    const auto& h = d.regression->residuals;
    CHECK(h.edges.front() == -10);
    CHECK(h.edges.back() == 10);
    CHECK(std::accumulate(h.counts.begin(), h.counts.end(), int64_t{0}) == 50);
    // Aggregates only: no list as long as the hidden targets.
    CHECK(ranges.size() < truth.size());
    CHECK(h.counts.size() < truth.size());
    CHECK(h.edges.size() < truth.size());

    // A NaN prediction: the metric says so, and there are no diagnostics.
    predicted[7] = std::nanf("");
    torchexam::Array nan(torchexam::Array::from_vector(predicted, TORCHEXAM_DTYPE_FLOAT32, {50, 1}));
    const torchexam::Scored none = task.score_with_diagnostics(nan.get());
    CHECK(std::isnan(none.metric));
    CHECK(none.diagnostics_json.empty());
    fs::remove_all(dir);
  }

  TEST_CASE("names may use any JSON string escape") {
    std::string cars = synthetic_cars(10);
    cars.replace(cars.find("caf\\u00e9"), 9, "\\ud83d\\ude97 \\/\\\\\\b\\f\\n\\r\\t");
    CHECK(load_error(cars).empty());
  }

  TEST_CASE("a malformed cars.json is refused with its position") {
    CHECK(
        load_error("[\n  {\"Name\": \"a\",\n   \"Cylinders\": {}}]").find("cars.json:3:17 (byte offset 34): nested") !=
        std::string::npos);
    CHECK(load_error("[{\"Name\": \"a\"").find("expected ',' or '}'") != std::string::npos);
    CHECK(load_error("{}").find("the file must hold a JSON array of objects") != std::string::npos);
    CHECK(load_error("[{\"Name\": 1e999}]").find("number out of range") != std::string::npos);
    CHECK(load_error("[{\"Name\": \"a\\q\"}]").find("invalid escape") != std::string::npos);
    CHECK(load_error("[{\"Name\": \"a\"}] x").find("unexpected text after the closing ']'") != std::string::npos);
    CHECK(load_error("[{\"Name\": \"a\", \"Name\": \"b\"}]").find("duplicate key \"Name\"") != std::string::npos);
    CHECK(load_error("[]").find("no complete rows") != std::string::npos);
    CHECK(load_error("[{\"Name\": \"\\ud83d\"}]").find("unpaired UTF-16 surrogate") != std::string::npos);

    std::string cars = synthetic_cars(3);
    const auto usa = cars.find("\"USA\"");
    CHECK(load_error(cars.replace(usa, 5, "\"Mars\"")).find("record 0 (byte offset 4): field \"Origin\" is \"Mars\"") !=
          std::string::npos);
    cars = synthetic_cars(3);
    CHECK(load_error(cars.replace(cars.find("\"Cylinders\": 4"), 14, "\"Cylinders\": \"4\""))
              .find("field \"Cylinders\" must be a number or null") != std::string::npos);
    cars = synthetic_cars(3);
    CHECK(load_error(cars.replace(cars.find("\"1975-01-01\""), 12, "\"75\"")).find("field \"Year\" is \"75\"") !=
          std::string::npos);
    cars = synthetic_cars(3);
    CHECK(load_error(cars.replace(cars.find("\"Acceleration\""), 14, "\"Accel\"")).find("no field \"Acceleration\"") !=
          std::string::npos);
  }
}
