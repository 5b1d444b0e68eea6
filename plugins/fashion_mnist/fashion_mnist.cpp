// The fashion_mnist task plugin: 10-class image classification on
// Fashion-MNIST, read from Debian's dataset-fashion-mnist.
//
// Training split: the 60k training images; hidden test: the 10k test images,
// whose labels only score() reads. Inputs are float32 [N, 1, 28, 28] scaled
// to [0, 1]; targets int64 class ids; the model returns logits [N, 10].
//
// Options: data_dir (default /usr/share/datasets/fashion-mnist), limit (keep
// only the first N training and N test samples; for tests).
//
// Scoring: accuracy, with the confusion matrix and per-class figures as the
// task's diagnostics (scored_classification), classes named as in the
// data set's documentation.
#include <torchexam/data/idx.hpp>
#include <torchexam/plugin.hpp>
#include <torchexam/scoring.hpp>

#include <cmath>
#include <string>
#include <vector>

namespace {

constexpr int64_t kSide = 28;
constexpr int64_t kClasses = 10;
const std::vector<std::string> kClassNames = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                                              "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
constexpr const char* kDefaultDataDir = "/usr/share/datasets/fashion-mnist";

class FashionMnist final : public torchexam::TaskBase {
 public:
  explicit FashionMnist(const std::map<std::string, std::string>& options) {
    torchexam::check_option_keys(options, {"data_dir", "limit"});
    data_dir_ = torchexam::string_option(options, "data_dir", kDefaultDataDir);
    limit_ = torchexam::count_option(options, "limit");
  }

  torchexam_task_info describe() const override {
    torchexam_task_info info{};
    info.name = "fashion_mnist";
    info.title = "Fashion-MNIST image classification";
    info.input = {TORCHEXAM_DTYPE_FLOAT32, 4, {-1, 1, kSide, kSide}};
    info.output = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, kClasses}};
    info.target = {TORCHEXAM_DTYPE_INT64, 1, {-1}};
    info.metric_name = "accuracy";
    info.higher_is_better = 1;
    return info;
  }

  void train_split(torchexam_array& inputs, torchexam_array& targets) override {
    inputs = images("train-images-idx3-ubyte.gz");
    targets = labels("train-labels-idx1-ubyte.gz");
    if (inputs.shape[0] != targets.shape[0])
      throw std::runtime_error("training images and labels disagree in count");
  }

  torchexam_array test_inputs() override { return images("t10k-images-idx3-ubyte.gz"); }

  double score(const torchexam_array& predictions) override { return score_with_diagnostics(predictions).metric; }

  torchexam::Scored score_with_diagnostics(const torchexam_array& predictions) override {
    torchexam::Array truth(labels("t10k-labels-idx1-ubyte.gz"));
    const auto* y = static_cast<const int64_t*>(truth.get().data);
    const std::vector<int64_t> hidden(y, y + truth.get().shape[0]);
    return torchexam::scored_classification(predictions, hidden, kClassNames);
  }

 private:
  torchexam_array images(const char* file) const {
    auto idx = torchexam::data::read_idx(data_dir_ + "/" + file, limit_);
    if (idx.dims.size() != 3 || idx.dims[1] != kSide || idx.dims[2] != kSide)
      throw std::runtime_error(data_dir_ + "/" + file + ": expected N x 28 x 28 images");
    std::vector<float> pixels(idx.data.size());
    for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<float>(idx.data[i]) / 255.0f;
    return torchexam::Array::from_vector(std::move(pixels), TORCHEXAM_DTYPE_FLOAT32,
                                         {idx.dims[0], 1, kSide, kSide});
  }

  torchexam_array labels(const char* file) const {
    auto idx = torchexam::data::read_idx(data_dir_ + "/" + file, limit_);
    if (idx.dims.size() != 1) throw std::runtime_error(data_dir_ + "/" + file + ": expected a label vector");
    std::vector<int64_t> y(idx.data.begin(), idx.data.end());
    for (int64_t v : y)
      if (v >= kClasses) throw std::runtime_error(data_dir_ + "/" + file + ": label out of range");
    return torchexam::Array::from_vector(std::move(y), TORCHEXAM_DTYPE_INT64, {idx.dims[0]});
  }

  std::string data_dir_;
  int64_t limit_ = 0;
};

}  // namespace

TORCHEXAM_EXPORT_PLUGIN("fashion_mnist", FashionMnist)
