// The regression task plugin: predict a car's fuel economy (miles per gallon)
// from nine numbers, on the Auto-MPG data (vega-datasets' cars.json, from
// Debian's python3-vega-datasets; installed by `torchexam data`).
//
// Data: cars.json is a JSON array of 406 flat objects (Name, Miles_per_Gallon,
// Cylinders, Displacement, Horsepower, Weight_in_lbs, Acceleration, Year as
// "YYYY-01-01", Origin one of USA/Europe/Japan). Rows with any null among the
// fields used are dropped (8 without mpg, 6 without horsepower): 392 remain.
//
// Inputs: float32 [N, 9], raw (NOT standardized), in this order:
//   0 cylinders, 1 displacement (cubic inches), 2 horsepower, 3 weight (lbs),
//   4 acceleration (s, 0-60 mph), 5 model year (e.g. 1976),
//   6 origin == USA, 7 origin == Europe, 8 origin == Japan (one-hot, 0/1).
// Targets: float32 [N, 1], mpg. The model returns float32 [N, 1].
//
// Split: every complete row gets the key "<Name>|<Year>|<index of the record
// in the file>", Year as written (e.g. "chevrolet chevelle malibu|1970-01-01|0");
// the 20% of rows (78 of 392) whose FNV-1a 64-bit hash of the key is smallest
// form the hidden test set, the rest the training split. Both keep the file's
// order. score() is the only call that returns anything
// computed from the test targets; train_split and test_inputs parse the whole
// file (it holds every target) but hand out none of the test targets.
//
// Metric: mean absolute error in mpg over the test rows, lower is better. A
// prediction that is NaN or infinite makes the metric NaN (score 0).
// Diagnostics (scored_regression): the MAE per decile of the hidden mpg
// values and a histogram of the residuals; none when a prediction is NaN or
// infinite.
//
// Options: data_dir (required; the folder holding cars.json — the grader
// passes it for `data: auto-mpg`), limit (keep only the first N training and
// N test rows; for quick checks).
//
// Failure: every problem throws with a message naming the file and, for a
// malformed file, the line, column and byte offset.
#include <torchexam/plugin.hpp>
#include <torchexam/scoring.hpp>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace {

constexpr const char* kFileName = "cars.json";
constexpr uint64_t kTestPercent = 20;
// Feature columns 0-4, in order, then the model year (5) and the origin
// one-hot (6-8, in kOrigins' order).
constexpr const char* kNumericFields[] = {"Cylinders", "Displacement", "Horsepower", "Weight_in_lbs",
                                          "Acceleration"};
constexpr size_t kNumeric = std::size(kNumericFields);
constexpr size_t kYearColumn = kNumeric;
constexpr const char* kOrigins[] = {"USA", "Europe", "Japan"};
constexpr size_t kOriginColumn = kYearColumn + 1;
constexpr int64_t kFeatures = static_cast<int64_t>(kOriginColumn + std::size(kOrigins));  // 9

// ---------------------------------------------------------------------------
// A small JSON reader for a flat array of objects whose values are strings,
// numbers, booleans or null. Nested arrays and objects are rejected.

struct Null {};
using Value = std::variant<Null, bool, double, std::string>;

struct Record {
  size_t offset = 0;  // where the object starts, for messages
  std::map<std::string, Value> fields;
};

class FlatJsonReader {
 public:
  FlatJsonReader(std::string_view text, std::string what) : s_(text), what_(std::move(what)) {}

  std::vector<Record> read_array_of_objects() {
    std::vector<Record> out;
    skip_space();
    expect('[', "the file must hold a JSON array of objects");
    skip_space();
    if (peek() == ']') {
      ++pos_;
    } else {
      for (;;) {
        skip_space();
        out.push_back(read_object());
        skip_space();
        if (peek() == ',') {
          ++pos_;
          continue;
        }
        expect(']', "expected ',' or ']' after an array element");
        break;
      }
    }
    skip_space();
    if (pos_ != s_.size()) fail("unexpected text after the closing ']'");
    return out;
  }

 private:
  [[noreturn]] void fail(const std::string& why) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < s_.size(); ++i) {
      if (s_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    throw std::runtime_error(what_ + ":" + std::to_string(line) + ":" + std::to_string(column) + " (byte offset " +
                             std::to_string(pos_) + "): " + why);
  }

  int peek() const { return pos_ < s_.size() ? static_cast<unsigned char>(s_[pos_]) : -1; }

  void expect(char c, const char* why) {
    if (peek() != c) fail(why);
    ++pos_;
  }

  void skip_space() {
    while (pos_ < s_.size() && (s_[pos_] == ' ' || s_[pos_] == '\t' || s_[pos_] == '\n' || s_[pos_] == '\r')) ++pos_;
  }

  Record read_object() {
    Record r;
    r.offset = pos_;
    expect('{', "expected '{' (each array element must be an object)");
    skip_space();
    if (peek() == '}') {
      ++pos_;
      return r;
    }
    for (;;) {
      skip_space();
      if (peek() != '"') fail("expected a string key in an object");
      const size_t key_at = pos_;
      std::string key = read_string();
      skip_space();
      expect(':', "expected ':' after an object key");
      skip_space();
      Value v = read_value();
      if (!r.fields.emplace(key, std::move(v)).second) {
        pos_ = key_at;
        fail("duplicate key \"" + key + "\" in an object");
      }
      skip_space();
      if (peek() == ',') {
        ++pos_;
        continue;
      }
      expect('}', "expected ',' or '}' after an object member");
      return r;
    }
  }

  Value read_value() {
    switch (peek()) {
      case '"': return read_string();
      case 'n': return read_word("null", Null{});
      case 't': return read_word("true", true);
      case 'f': return read_word("false", false);
      case '{':
      case '[': fail("nested objects and arrays are not supported in this file");
      case -1: fail("unexpected end of file, expected a value");
      default: return read_number();
    }
  }

  Value read_word(std::string_view word, Value v) {
    if (s_.substr(pos_, word.size()) != word) fail("invalid literal (expected " + std::string(word) + ")");
    pos_ += word.size();
    return v;
  }

  // JSON number grammar, then std::from_chars (locale-independent).
  double read_number() {
    const size_t start = pos_;
    auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < s_.size() && s_[pos_] >= '0' && s_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    if (peek() == '-') ++pos_;
    if (peek() == '0') {
      ++pos_;
    } else if (digits() == 0) {
      pos_ = start;
      fail("expected a value (string, number, true, false or null)");
    }
    if (peek() == '.') {
      ++pos_;
      if (digits() == 0) fail("expected a digit after the decimal point");
    }
    if (peek() == 'e' || peek() == 'E') {
      ++pos_;
      if (peek() == '+' || peek() == '-') ++pos_;
      if (digits() == 0) fail("expected a digit in the exponent");
    }
    double v = 0;
    auto [end, ec] = std::from_chars(s_.data() + start, s_.data() + pos_, v);
    if (ec != std::errc() || end != s_.data() + pos_ || !std::isfinite(v)) {
      pos_ = start;
      fail("number out of range");
    }
    return v;
  }

  unsigned read_hex4() {
    unsigned u = 0;
    for (int i = 0; i < 4; ++i) {
      const int c = peek();
      unsigned d = 0;
      if (c >= '0' && c <= '9') d = static_cast<unsigned>(c - '0');
      else if (c >= 'a' && c <= 'f') d = static_cast<unsigned>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F') d = static_cast<unsigned>(c - 'A' + 10);
      else fail("expected four hex digits after \\u");
      u = u * 16 + d;
      ++pos_;
    }
    return u;
  }

  static void append_utf8(std::string& out, unsigned cp) {
    if (cp < 0x80) {
      out += static_cast<char>(cp);
    } else if (cp < 0x800) {
      out += static_cast<char>(0xC0 | (cp >> 6));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
      out += static_cast<char>(0xE0 | (cp >> 12));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (cp >> 18));
      out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (cp & 0x3F));
    }
  }

  std::string read_string() {
    expect('"', "expected a string");
    std::string out;
    for (;;) {
      const int c = peek();
      if (c == -1) fail("unterminated string");
      if (c < 0x20) fail("control character inside a string");
      ++pos_;
      if (c == '"') return out;
      if (c != '\\') {
        out += static_cast<char>(c);
        continue;
      }
      const int e = peek();
      ++pos_;
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          unsigned cp = read_hex4();
          if (cp >= 0xD800 && cp <= 0xDBFF) {  // a surrogate pair
            if (peek() != '\\' || pos_ + 1 >= s_.size() || s_[pos_ + 1] != 'u')
              fail("unpaired UTF-16 surrogate in \\u escape");
            pos_ += 2;
            const unsigned lo = read_hex4();
            if (lo < 0xDC00 || lo > 0xDFFF) fail("invalid UTF-16 low surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            fail("unpaired UTF-16 surrogate in \\u escape");
          }
          append_utf8(out, cp);
          break;
        }
        default: --pos_; fail("invalid escape in a string");
      }
    }
  }

  std::string_view s_;
  std::string what_;
  size_t pos_ = 0;
};

// ---------------------------------------------------------------------------
// Auto-MPG rows and the split.

using torchexam::fnv1a64;

struct Car {
  std::string key;  // Name|Year|record index
  float features[kFeatures];
  float mpg;
};

struct Split {
  std::vector<Car> train, test;
};

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in)
    throw std::runtime_error("cannot open " + path +
                             " (the auto-mpg data set; install it with `torchexam data <environment folder>`)");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error("cannot read " + path);
  return text;
}

Split load_split(const std::string& path) {
  const std::string text = read_file(path);
  const std::vector<Record> records = FlatJsonReader(text, path).read_array_of_objects();

  std::vector<Car> cars;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& r = records[i];
    auto where = [&] {
      return path + ": record " + std::to_string(i) + " (byte offset " + std::to_string(r.offset) + ")";
    };
    auto field = [&](const char* name) -> const Value& {
      auto it = r.fields.find(name);
      if (it == r.fields.end()) throw std::runtime_error(where() + ": no field \"" + name + "\"");
      return it->second;
    };
    auto string_field = [&](const char* name) {
      const Value& v = field(name);
      if (!std::holds_alternative<std::string>(v))
        throw std::runtime_error(where() + ": field \"" + name + "\" must be a string");
      return std::get<std::string>(v);
    };
    // A number, or nothing for null (the row is then incomplete).
    auto number_field = [&](const char* name) -> std::optional<double> {
      const Value& v = field(name);
      if (std::holds_alternative<Null>(v)) return std::nullopt;
      if (!std::holds_alternative<double>(v))
        throw std::runtime_error(where() + ": field \"" + name + "\" must be a number or null");
      return std::get<double>(v);
    };

    const std::string name = string_field("Name");
    const std::string year_text = string_field("Year");
    const std::string origin = string_field("Origin");
    int year = 0;
    const char* year_end = year_text.data() + std::min<size_t>(4, year_text.size());
    if (auto [end, ec] = std::from_chars(year_text.data(), year_end, year);
        ec != std::errc() || end != year_end || year_text.size() < 4 || year < 1900 || year > 2100)
      throw std::runtime_error(where() + ": field \"Year\" is \"" + year_text + "\", expected a date YYYY-MM-DD");
    size_t origin_index = std::size(kOrigins);
    for (size_t k = 0; k < std::size(kOrigins); ++k)
      if (origin == kOrigins[k]) origin_index = k;
    if (origin_index == std::size(kOrigins))
      throw std::runtime_error(where() + ": field \"Origin\" is \"" + origin + "\", expected USA, Europe or Japan");

    std::optional<double> values[kNumeric];
    bool complete = true;
    for (size_t k = 0; k < kNumeric; ++k) {
      values[k] = number_field(kNumericFields[k]);
      complete = complete && values[k].has_value();
    }
    const std::optional<double> mpg = number_field("Miles_per_Gallon");
    if (!complete || !mpg) continue;

    Car car{};
    car.key = name + "|" + year_text + "|" + std::to_string(i);
    for (size_t k = 0; k < kNumeric; ++k) car.features[k] = static_cast<float>(*values[k]);
    car.features[kYearColumn] = static_cast<float>(year);
    car.features[kOriginColumn + origin_index] = 1;
    car.mpg = static_cast<float>(*mpg);
    cars.push_back(std::move(car));
  }
  if (cars.empty()) throw std::runtime_error(path + ": no complete rows");

  // The test set: the kTestPercent% of rows with the smallest key hashes.
  std::vector<size_t> order(cars.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::vector<uint64_t> hash(cars.size());
  for (size_t i = 0; i < cars.size(); ++i) hash[i] = fnv1a64(cars[i].key);
  std::sort(order.begin(), order.end(),
            [&](size_t a, size_t b) { return hash[a] != hash[b] ? hash[a] < hash[b] : a < b; });
  const size_t n_test = (cars.size() * kTestPercent + 50) / 100;
  std::vector<bool> is_test(cars.size(), false);
  for (size_t i = 0; i < n_test; ++i) is_test[order[i]] = true;

  Split split;
  for (size_t i = 0; i < cars.size(); ++i) (is_test[i] ? split.test : split.train).push_back(std::move(cars[i]));
  return split;
}

// ---------------------------------------------------------------------------

class Regression final : public torchexam::TaskBase {
 public:
  explicit Regression(const std::map<std::string, std::string>& options) {
    torchexam::check_option_keys(options, {"data_dir", "limit"});
    path_ = torchexam::required_option(options, "data_dir",
                                       "the folder holding cars.json (the auto-mpg data set, installed by "
                                       "`torchexam data <environment folder>`; a task.yaml with `data: auto-mpg` "
                                       "passes it)") +
            "/" + kFileName;
    limit_ = torchexam::count_option(options, "limit");
  }

  torchexam_task_info describe() const override {
    torchexam_task_info info{};
    info.name = "regression";
    info.title = "Auto-MPG fuel economy regression";
    info.input = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, kFeatures}};
    info.output = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, 1}};
    info.target = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, 1}};
    info.metric_name = "mae";
    info.higher_is_better = 0;
    return info;
  }

  void train_split(torchexam_array& inputs, torchexam_array& targets) override {
    const auto& rows = split().train;
    inputs = features(rows);
    targets = mpg(rows);
  }

  torchexam_array test_inputs() override { return features(split().test); }

  double score(const torchexam_array& predictions) override { return score_with_diagnostics(predictions).metric; }

  torchexam::Scored score_with_diagnostics(const torchexam_array& predictions) override {
    std::vector<double> hidden;
    for (const Car& c : split().test) hidden.push_back(c.mpg);
    return torchexam::scored_regression(predictions, hidden);
  }

 private:
  // Parsed once per handle; limit applied.
  const Split& split() {
    if (!split_) {
      split_ = load_split(path_);
      if (limit_ > 0) {
        const auto keep = static_cast<size_t>(limit_);
        if (split_->train.size() > keep) split_->train.resize(keep);
        if (split_->test.size() > keep) split_->test.resize(keep);
      }
    }
    return *split_;
  }

  static torchexam_array features(const std::vector<Car>& rows) {
    std::vector<float> x;
    x.reserve(rows.size() * kFeatures);
    for (const Car& c : rows) x.insert(x.end(), c.features, c.features + kFeatures);
    return torchexam::Array::from_vector(std::move(x), TORCHEXAM_DTYPE_FLOAT32,
                                         {static_cast<int64_t>(rows.size()), kFeatures});
  }

  static torchexam_array mpg(const std::vector<Car>& rows) {
    std::vector<float> y;
    y.reserve(rows.size());
    for (const Car& c : rows) y.push_back(c.mpg);
    return torchexam::Array::from_vector(std::move(y), TORCHEXAM_DTYPE_FLOAT32, {static_cast<int64_t>(rows.size()), 1});
  }

  std::string path_;
  int64_t limit_ = 0;
  std::optional<Split> split_;
};

}  // namespace

TORCHEXAM_EXPORT_PLUGIN("regression", Regression)
