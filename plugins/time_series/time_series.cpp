// The time_series task plugin: forecast the next 13 weeks of atmospheric CO2
// at Mauna Loa from the last 104 weeks (statsmodels' co2.csv, from Debian's
// python3-statsmodels; installed by `torchexam data`).
//
// Data: co2.csv has the header "date,co2" and one row per week, dates
// YYYYMMDD exactly 7 days apart, 1958-03-29 to 2001-12-29 (2284 rows). A
// blank co2 value (59 of them, at most 18 in a row) is filled by linear
// interpolation between the nearest known weeks; blanks before the first or
// after the last known week (there are none) would take that week's value.
//
// Windows: the window whose forecast starts at week t has inputs float32
// [104, 1], the values of weeks t-104 .. t-1 in ppm (raw, not normalized),
// and targets float32 [13], the values of weeks t .. t+12. The model maps
// [N, 104, 1] to [N, 13].
//
// Split: the split week is S = floor(0.8 * 2284) = 1827 (1993-04-03). The
// training split is every window lying entirely before S, targets included
// (t = 104 .. S-13: 1711 windows). The hidden test set is every window whose
// targets lie at or after S (t = S .. 2271: 445 windows); their inputs may
// reach back before S. Windows come in time order, one week apart.
//
// Hidden labels: no call made in the sandbox returns a test target array,
// and train_split holds no value from week S on. The test inputs do hold
// test targets: rolling-origin windows overlap, so the last input week of
// window t+h+1 is week t+h, the target of window t at horizon h; only the
// final 13 weeks appear nowhere in the test inputs. Evaluation makes this
// unusable: evaluation() declares {max_batch 1, in_order 1}, so the runner
// calls the model's forward() with one window at a time, in time order.
// When it forecasts window t, the model (whatever state it keeps across
// calls) has seen only windows up to t, that is weeks before t, and each
// forecast is copied when it is returned, so it cannot be revised later.
// (The data file itself is public.)
//
// Metric: mean absolute error in ppm over every test window and all 13
// horizons, lower is better. NaN or infinite predictions make it NaN (0).
// Diagnostics (scored_forecast): the MAE per horizon week (1..13) and a
// histogram of the residuals; none when a prediction is NaN or infinite.
//
// Options: data_dir (required; the folder holding co2.csv — the grader passes
// it for `data: co2`), limit (keep only the first N training and N test
// windows; for quick checks).
//
// Failure: every problem throws with a message naming the file and line.
#include <torchexam/plugin.hpp>
#include <torchexam/scoring.hpp>

#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace {

constexpr int64_t kWindow = 104;  // input weeks
constexpr int64_t kHorizon = 13;  // forecast weeks
constexpr int64_t kTrainPercent = 80;
constexpr int kDaysPerStep = 7;
constexpr const char* kFileName = "co2.csv";
constexpr std::string_view kHeader = "date,co2";

struct Week {
  std::chrono::sys_days date;
  std::optional<double> co2;
};

std::string date_string(std::chrono::sys_days d) {
  const std::chrono::year_month_day ymd{d};
  char buf[16];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02u", static_cast<int>(ymd.year()), static_cast<unsigned>(ymd.month()),
                static_cast<unsigned>(ymd.day()));
  return buf;
}

// Reads co2.csv into one value per week, blanks interpolated.
std::vector<double> load_series(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot open " + path +
                             " (the co2 data set; install it with `torchexam data <environment folder>`)");
  std::vector<Week> weeks;
  std::string line;
  size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    auto fail = [&](const std::string& why) {
      throw std::runtime_error(path + ":" + std::to_string(line_no) + ": " + why + " (line: \"" + line + "\")");
    };
    if (line_no == 1) {
      if (line != kHeader) fail("expected the header \"" + std::string(kHeader) + "\"");
      continue;
    }
    if (line.empty()) continue;
    const size_t comma = line.find(',');
    if (comma == std::string::npos || line.find(',', comma + 1) != std::string::npos)
      fail("expected two comma-separated fields: date,co2");
    const std::string_view date(line.data(), comma);
    const std::string_view value(line.data() + comma + 1, line.size() - comma - 1);

    int ymd = 0;
    auto [dend, dec] = std::from_chars(date.data(), date.data() + date.size(), ymd);
    if (date.size() != 8 || dec != std::errc() || dend != date.data() + date.size()) fail("the date must be YYYYMMDD");
    const std::chrono::year_month_day day{std::chrono::year{ymd / 10000},
                                          std::chrono::month{static_cast<unsigned>(ymd / 100 % 100)},
                                          std::chrono::day{static_cast<unsigned>(ymd % 100)}};
    if (!day.ok()) fail("the date is not a valid calendar date");
    Week w{std::chrono::sys_days{day}, std::nullopt};
    if (!weeks.empty() && (w.date - weeks.back().date).count() != kDaysPerStep)
      fail("the date is not 7 days after the previous row's (" + date_string(weeks.back().date) +
           "); the series must be weekly without gaps");

    if (!value.empty()) {
      double v = 0;
      auto [vend, vec] = std::from_chars(value.data(), value.data() + value.size(), v);
      if (vec != std::errc() || vend != value.data() + value.size() || !std::isfinite(v))
        fail("the co2 value is not a number (leave it empty when unknown)");
      w.co2 = v;
    }
    weeks.push_back(w);
  }
  if (in.bad()) throw std::runtime_error("cannot read " + path);
  if (line_no == 0) throw std::runtime_error(path + ": the file is empty");

  // Linear interpolation over blanks; the ends take the nearest known value.
  const auto n = static_cast<int64_t>(weeks.size());
  std::vector<double> series(static_cast<size_t>(n));
  int64_t prev = -1;  // the last known index so far
  for (int64_t i = 0; i <= n; ++i) {
    if (i < n && !weeks[static_cast<size_t>(i)].co2) continue;
    for (int64_t j = prev + 1; j < i; ++j) {  // fill the gap (prev, i)
      if (prev < 0 && i == n) throw std::runtime_error(path + ": no co2 value is given");
      double v = 0;
      if (prev < 0) {
        v = *weeks[static_cast<size_t>(i)].co2;
      } else if (i == n) {
        v = *weeks[static_cast<size_t>(prev)].co2;
      } else {
        const double a = *weeks[static_cast<size_t>(prev)].co2, b = *weeks[static_cast<size_t>(i)].co2;
        v = a + (b - a) * static_cast<double>(j - prev) / static_cast<double>(i - prev);
      }
      series[static_cast<size_t>(j)] = v;
    }
    if (i < n) series[static_cast<size_t>(i)] = *weeks[static_cast<size_t>(i)].co2;
    prev = i;
  }
  if (n < 2 * (kWindow + kHorizon))
    throw std::runtime_error(path + ": " + std::to_string(n) + " weeks are too few for " + std::to_string(kWindow) +
                             "-week windows with a " + std::to_string(kHorizon) + "-week horizon");
  return series;
}

class TimeSeries final : public torchexam::TaskBase {
 public:
  explicit TimeSeries(const std::map<std::string, std::string>& options) {
    torchexam::check_option_keys(options, {"data_dir", "limit"});
    path_ = torchexam::required_option(options, "data_dir",
                                       "the folder holding co2.csv (the co2 data set, installed by "
                                       "`torchexam data <environment folder>`; a task.yaml with `data: co2` "
                                       "passes it)") +
            "/" + kFileName;
    limit_ = torchexam::count_option(options, "limit");
  }

  torchexam_task_info describe() const override {
    torchexam_task_info info{};
    info.name = "time_series";
    info.title = "Mauna Loa CO2 forecast, 13 weeks ahead";
    info.input = {TORCHEXAM_DTYPE_FLOAT32, 3, {-1, kWindow, 1}};
    info.output = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, kHorizon}};
    info.target = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, kHorizon}};
    info.metric_name = "mae";
    info.higher_is_better = 0;
    return info;
  }

  // One window per forward() call, in time order: see "Hidden labels" above.
  torchexam_evaluation evaluation() const override { return {1, 1, 0}; }

  void train_split(torchexam_array& inputs, torchexam_array& targets) override {
    const auto& s = series();
    const int64_t first = kWindow, last = split_week() - kHorizon;  // window starts, inclusive
    const int64_t n = clamp(last - first + 1);
    inputs = windows(s, first, n);
    const std::vector<double> y = window_targets(s, first, n);
    targets = torchexam::Array::from_vector(std::vector<float>(y.begin(), y.end()), TORCHEXAM_DTYPE_FLOAT32,
                                            {n, kHorizon});
  }

  torchexam_array test_inputs() override {
    const auto& s = series();
    return windows(s, split_week(), test_count());
  }

  double score(const torchexam_array& predictions) override { return score_with_diagnostics(predictions).metric; }

  torchexam::Scored score_with_diagnostics(const torchexam_array& predictions) override {
    const auto& s = series();
    return torchexam::scored_forecast(predictions, window_targets(s, split_week(), test_count()), kHorizon, "week");
  }

 private:
  const std::vector<double>& series() {
    if (series_.empty()) series_ = load_series(path_);
    return series_;
  }

  int64_t split_week() const { return static_cast<int64_t>(series_.size()) * kTrainPercent / 100; }
  int64_t test_count() const { return clamp(static_cast<int64_t>(series_.size()) - kHorizon - split_week() + 1); }
  int64_t clamp(int64_t n) const { return limit_ > 0 && n > limit_ ? limit_ : n; }

  // Inputs of n windows whose targets start at weeks first, first + 1, ...
  static torchexam_array windows(const std::vector<double>& s, int64_t first, int64_t n) {
    std::vector<float> x;
    x.reserve(static_cast<size_t>(n * kWindow));
    for (int64_t t = first; t < first + n; ++t)
      for (int64_t k = t - kWindow; k < t; ++k) x.push_back(static_cast<float>(s[static_cast<size_t>(k)]));
    return torchexam::Array::from_vector(std::move(x), TORCHEXAM_DTYPE_FLOAT32, {n, kWindow, 1});
  }

  // Targets of the same n windows, row-major [n, kHorizon].
  static std::vector<double> window_targets(const std::vector<double>& s, int64_t first, int64_t n) {
    std::vector<double> y;
    y.reserve(static_cast<size_t>(n * kHorizon));
    for (int64_t t = first; t < first + n; ++t)
      for (int64_t h = 0; h < kHorizon; ++h) y.push_back(s[static_cast<size_t>(t + h)]);
    return y;
  }

  std::string path_;
  int64_t limit_ = 0;
  std::vector<double> series_;
};

}  // namespace

TORCHEXAM_EXPORT_PLUGIN("time_series", TimeSeries)
