// The time_series task plugin (Mauna Loa CO2): its contract, its windows and
// split of the real series, its scoring, interpolation and CSV errors, on the
// installed co2.csv and on small files the tests write.
#include <doctest/doctest.h>

#include "grading/task_diagnostics.hpp"
#include "plugin_test_util.hpp"
#include <torchexam/plugin.hpp>

#include <boost/json.hpp>

#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kWindow = 104;
constexpr int64_t kHorizon = 13;

std::shared_ptr<torchexam::PluginLibrary> open_plugin() { return torchexam::test::open_task_plugin("time_series"); }

fs::path real_data_dir() { return torchexam::test::installed_data_dir("co2"); }

using torchexam::test::temp_dir;

// A weekly co2.csv from 1958-03-29 with value 300 + i/8 in week i (exact in
// float32), or a blank where blank(i) says so.
template <class Blank>
std::string linear_csv(int weeks, Blank blank) {
  using namespace std::chrono;
  std::string s = "date,co2\r\n";  // CRLF line ends are accepted
  sys_days day = sys_days{year{1958} / 3 / 29};
  for (int i = 0; i < weeks; ++i, day += days{7}) {
    const year_month_day ymd{day};
    char line[64];
    std::snprintf(line, sizeof line, "%04d%02u%02u,", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                  static_cast<unsigned>(ymd.day()));
    s += line;
    if (!blank(i)) s += std::to_string(300 + i / 8.0);
    s += "\r\n";
  }
  return s;
}

float week_value(int64_t i) { return static_cast<float>(300 + static_cast<double>(i) / 8.0); }

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

// The error of loading the test inputs from a co2.csv holding `text`.
std::string load_error(const std::string& text) {
  const auto dir = temp_dir("time-series-bad");
  std::ofstream(dir / "co2.csv", std::ios::binary) << text;
  auto lib = open_plugin();
  auto task = lib->create({{"data_dir", dir.string()}});
  std::string msg;
  try {
    task.test_inputs();
  } catch (const torchexam::PluginError& e) {
    msg = e.what();
  }
  fs::remove_all(dir);
  return msg;
}

}  // namespace

TEST_SUITE("time_series") {
  TEST_CASE("time_series describes its task and checks its options") {
    auto lib = open_plugin();
    CHECK(lib->name() == "time_series");
    auto task = lib->create({{"data_dir", "/nonexistent"}});
    const auto& info = task.info();
    CHECK(std::string(info.name) == "time_series");
    CHECK(std::string(info.metric_name) == "mae");
    CHECK(info.higher_is_better == 0);
    CHECK(torchexam::spec_string(info.input) == "[N, 104, 1] float32");
    CHECK(torchexam::spec_string(info.output) == "[N, 13] float32");
    CHECK(torchexam::spec_string(info.target) == "[N, 13] float32");

    const std::string missing = create_error(*lib, {});
    CHECK(missing.find("option data_dir is required") != std::string::npos);
    CHECK(missing.find("torchexam data") != std::string::npos);
    CHECK(create_error(*lib, {{"data_dir", "/x"}, {"window", "52"}}).find("unknown plugin option 'window'") !=
          std::string::npos);
    try {
      task.train_split();
      FAIL("a missing file was read");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("cannot open /nonexistent/co2.csv") != std::string::npos);
    }
  }

  TEST_CASE("the real CO2 series gives 1711 training and 445 test windows, the same every time") {
    const fs::path dir = real_data_dir();
    if (!fs::exists(dir / "co2.csv")) {
      FAIL("the co2 data set is not installed in " << dir.string()
                                                               << " (torchexam data environments/practice)");
      return;
    }
    auto lib = open_plugin();
    auto a = lib->create({{"data_dir", dir.string()}});
    auto b = lib->create({{"data_dir", dir.string()}});
    auto [x, y] = a.train_split();
    auto [x2, y2] = b.train_split();
    torchexam::Array t = a.test_inputs(), t2 = b.test_inputs();
    REQUIRE(x.shape() == std::vector<int64_t>{1711, kWindow, 1});
    REQUIRE(y.shape() == std::vector<int64_t>{1711, kHorizon});
    REQUIRE(t.shape() == std::vector<int64_t>{445, kWindow, 1});
    CHECK(values(x) == values(x2));
    CHECK(values(y) == values(y2));
    CHECK(values(t) == values(t2));

    const auto xv = values(x), yv = values(y), tv = values(t);
    // The file starts 316.1, 317.3, 317.6, 317.5, 316.4, 316.9, (blank), 317.5.
    CHECK(xv[0] == 316.1f);
    CHECK(xv[3] == 317.5f);
    CHECK(xv[6] == doctest::Approx((316.9 + 317.5) / 2).epsilon(1e-6));
    int not_finite = 0;
    for (float v : xv) not_finite += !std::isfinite(v);
    for (float v : tv) not_finite += !std::isfinite(v);
    CHECK(not_finite == 0);
    // Consecutive windows are one week apart, and the last training window's
    // targets are the last 13 weeks of the first test window: training data
    // stops exactly where the hidden targets begin.
    CHECK(xv[1] == xv[static_cast<size_t>(kWindow)]);
    CHECK(std::vector<float>(yv.end() - kHorizon, yv.end()) ==
          std::vector<float>(tv.begin() + (kWindow - kHorizon), tv.begin() + kWindow));

    // The persistence forecast (the last input week, 13 times): the "no
    // model" baseline of task.yaml.
    std::vector<float> persistence;
    for (int64_t i = 0; i < 445; ++i)
      for (int64_t h = 0; h < kHorizon; ++h) persistence.push_back(tv[static_cast<size_t>(i * kWindow + kWindow - 1)]);
    torchexam::Array p(torchexam::Array::from_vector(persistence, TORCHEXAM_DTYPE_FLOAT32, {445, kHorizon}));
    CHECK(a.score(p.get()) == doctest::Approx(1.7452).epsilon(1e-4));

    auto limited = lib->create({{"data_dir", dir.string()}, {"limit", "5"}});
    CHECK(limited.train_split().second.shape() == std::vector<int64_t>{5, kHorizon});
    CHECK(limited.test_inputs().shape() == std::vector<int64_t>{5, kWindow, 1});
  }

  TEST_CASE("time_series scores MAE, refuses a wrong shape, and keeps the split's targets out of the sandbox") {
    // 300 weeks: the split week is 240; 124 training windows, 48 test windows.
    const auto dir = temp_dir("time-series");
    std::ofstream(dir / "co2.csv", std::ios::binary) << linear_csv(300, [](int i) { return i % 17 == 5 || i == 250; });
    auto lib = open_plugin();
    auto task = lib->create({{"data_dir", dir.string()}});
    auto [x, y] = task.train_split();
    torchexam::Array t = task.test_inputs();
    REQUIRE(x.shape() == std::vector<int64_t>{124, kWindow, 1});
    REQUIRE(y.shape() == std::vector<int64_t>{124, kHorizon});
    REQUIRE(t.shape() == std::vector<int64_t>{48, kWindow, 1});

    // Blanks are interpolated (exactly, on a straight line); windows are where
    // the contract says.
    const auto xv = values(x), yv = values(y), tv = values(t);
    int misplaced = 0;
    for (int64_t w = 0; w < 124; ++w) {
      for (int64_t k = 0; k < kWindow; ++k) misplaced += xv[static_cast<size_t>(w * kWindow + k)] != week_value(w + k);
      for (int64_t h = 0; h < kHorizon; ++h)
        misplaced += yv[static_cast<size_t>(w * kHorizon + h)] != week_value(w + kWindow + h);
    }
    for (int64_t w = 0; w < 48; ++w)
      for (int64_t k = 0; k < kWindow; ++k)
        misplaced += tv[static_cast<size_t>(w * kWindow + k)] != week_value(240 + w - kWindow + k);
    CHECK(misplaced == 0);

    // Nothing from the split week on reaches train_split; the last 13 weeks
    // (targets only) reach no sandboxed call.
    int leaks = 0;
    for (float v : xv) leaks += v >= week_value(240);
    for (float v : yv) leaks += v >= week_value(240);
    for (float v : tv) leaks += v >= week_value(300 - kHorizon);
    CHECK(leaks == 0);

    std::vector<float> truth, off;
    for (int64_t w = 0; w < 48; ++w)
      for (int64_t h = 0; h < kHorizon; ++h) {
        truth.push_back(week_value(240 + w + h));
        off.push_back(week_value(240 + w + h) + (h % 2 ? 0.5f : -0.5f));
      }
    torchexam::Array perfect(torchexam::Array::from_vector(truth, TORCHEXAM_DTYPE_FLOAT32, {48, kHorizon}));
    CHECK(task.score(perfect.get()) == 0.0);
    torchexam::Array shifted(torchexam::Array::from_vector(off, TORCHEXAM_DTYPE_FLOAT32, {48, kHorizon}));
    CHECK(task.score(shifted.get()) == doctest::Approx(0.5));

    torchexam::Array wrong(
        torchexam::Array::from_vector(std::vector<float>(48 * 12), TORCHEXAM_DTYPE_FLOAT32, {48, 12}));
    CHECK_THROWS_WITH_AS(task.score(wrong.get()),
                         doctest::Contains("predictions must be [48, 13] float32, got [48, 12] float32"),
                         torchexam::PluginError);
    torchexam::Array ints(
        torchexam::Array::from_vector(std::vector<int64_t>(48 * 13), TORCHEXAM_DTYPE_INT64, {48, 13}));
    CHECK_THROWS_WITH_AS(task.score(ints.get()), doctest::Contains("got [48, 13] int64"), torchexam::PluginError);
    fs::remove_all(dir);
  }

  TEST_CASE("time_series diagnostics: the MAE per horizon week, and the residuals") {
    // 300 weeks: 48 test windows. Every forecast of week h + 1 is off by (h + 1) / 8.
    const auto dir = temp_dir("time-series-diagnostics");
    std::ofstream(dir / "co2.csv", std::ios::binary) << linear_csv(300, [](int) { return false; });
    auto task = open_plugin()->create({{"data_dir", dir.string()}});
    std::vector<float> predicted;
    for (int64_t w = 0; w < 48; ++w)
      for (int64_t h = 0; h < kHorizon; ++h) predicted.push_back(week_value(240 + w + h) + static_cast<float>(h + 1) / 8);
    torchexam::Array p(torchexam::Array::from_vector(predicted, TORCHEXAM_DTYPE_FLOAT32, {48, kHorizon}));
    const torchexam::Scored s = task.score_with_diagnostics(p.get());
    CHECK(s.metric == doctest::Approx(7.0 / 8));
    const auto d = boost::json::value_to<torchexam::TaskDiagnostics>(boost::json::parse(s.diagnostics_json));
    REQUIRE(d.forecast);
    CHECK(d.forecast->step_unit == "week");
    REQUIRE(d.forecast->mae_per_step.size() == static_cast<size_t>(kHorizon));
    for (int64_t h = 0; h < kHorizon; ++h) CHECK(d.forecast->mae_per_step[static_cast<size_t>(h)] == (h + 1) / 8.0);
    // Residuals 0.125 .. 1.625: bins of 0.2 over [-2, 2], every forecast counted.
    const auto& r = d.forecast->residuals;
    CHECK(r.edges.back() == 2);
    CHECK(std::accumulate(r.counts.begin(), r.counts.end(), int64_t{0}) == 48 * kHorizon);
    CHECK(std::accumulate(r.counts.begin(), r.counts.begin() + 10, int64_t{0}) == 0);  // none below 0
    fs::remove_all(dir);
  }

  TEST_CASE("blanks at the ends of the series take the nearest known week") {
    const auto dir = temp_dir("time-series-ends");
    std::ofstream(dir / "co2.csv", std::ios::binary) << linear_csv(300, [](int i) { return i < 2 || i > 297; });
    auto lib = open_plugin();
    auto task = lib->create({{"data_dir", dir.string()}});
    const auto xv = values(task.train_split().first);
    CHECK(xv[0] == week_value(2));
    CHECK(xv[1] == week_value(2));
    CHECK(xv[2] == week_value(2));
    CHECK(xv[3] == week_value(3));
    fs::remove_all(dir);
  }

  TEST_CASE("a malformed co2.csv is refused with its file and line") {
    CHECK(load_error("day,ppm\n").find("co2.csv:1: expected the header \"date,co2\"") != std::string::npos);
    CHECK(load_error("").find("co2.csv: the file is empty") != std::string::npos);
    CHECK(load_error("date,co2\n19580329,316.1\n19580412,317.6\n")
              .find("co2.csv:3: the date is not 7 days after the previous row's (1958-03-29)") != std::string::npos);
    CHECK(load_error("date,co2\n19580329,abc\n").find("co2.csv:2: the co2 value is not a number") != std::string::npos);
    CHECK(load_error("date,co2\n19581329,316.1\n").find("co2.csv:2: the date is not a valid calendar date") !=
          std::string::npos);
    CHECK(load_error("date,co2\n19580329,316.1,1\n").find("co2.csv:2: expected two comma-separated fields") !=
          std::string::npos);
    CHECK(load_error("date,co2\n19580329,\n19580405,\n").find("no co2 value is given") != std::string::npos);
    CHECK(load_error(linear_csv(200, [](int) { return false; })).find("are too few for 104-week windows") !=
          std::string::npos);
  }
}
