// A plugin whose diagnostics are whatever the test asks for, to check how
// the harness takes a plugin's diagnostics text: option `text` is returned
// as the diagnostics (absent: none), option `fail` ("1") makes
// score_with_diagnostics fail while score still works. The task: 3 test
// samples of 2 features, one float32 output each; the metric is 0.75
// whatever the predictions.
#include <torchexam/plugin.hpp>

#include <map>
#include <stdexcept>
#include <string>
#include <vector>

namespace {

class DiagnosticsText final : public torchexam::TaskBase {
 public:
  explicit DiagnosticsText(const std::map<std::string, std::string>& options) {
    torchexam::check_option_keys(options, {"text", "fail"});
    text_ = torchexam::string_option(options, "text", "");
    fail_ = torchexam::string_option(options, "fail", "0") == "1";
  }

  torchexam_task_info describe() const override {
    torchexam_task_info info{};
    info.name = "diagnostics_text";
    info.title = "diagnostics as the test asks";
    info.input = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, 2}};
    info.output = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, 1}};
    info.target = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, 1}};
    info.metric_name = "mae";
    info.higher_is_better = 0;
    return info;
  }

  void train_split(torchexam_array& inputs, torchexam_array& targets) override {
    inputs = torchexam::Array::from_vector(std::vector<float>(8), TORCHEXAM_DTYPE_FLOAT32, {4, 2});
    targets = torchexam::Array::from_vector(std::vector<float>(4), TORCHEXAM_DTYPE_FLOAT32, {4, 1});
  }

  torchexam_array test_inputs() override {
    return torchexam::Array::from_vector(std::vector<float>(6), TORCHEXAM_DTYPE_FLOAT32, {3, 2});
  }

  double score(const torchexam_array&) override { return kMetric; }

  torchexam::Scored score_with_diagnostics(const torchexam_array&) override {
    if (fail_) throw std::runtime_error("the diagnostics could not be computed");
    return {kMetric, text_};
  }

 private:
  static constexpr double kMetric = 0.75;
  std::string text_;
  bool fail_ = false;
};

}  // namespace

TORCHEXAM_EXPORT_PLUGIN("diagnostics_text", DiagnosticsText)
