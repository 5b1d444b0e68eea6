// A deliberately cheating time_series solution. It learns nothing; its
// forecast for a window is persistence (the last input week, 13 times),
// except where it can find the true values among test inputs it should not
// be able to use. Test windows are one week apart, so the last input week of
// the window that ends k weeks later is this window's target at horizon k-1;
// a window is recognized by content (8 consecutive weeks), so no order or
// shuffling hides it. It looks in:
//   1. the other rows of the batch forward() is given;
//   2. every window of earlier forward() calls (it keeps them);
//   3. the storage behind its input tensor, past its own rows (a view of the
//      whole staged test array has all of them);
//   4. and it rewrites the forecasts it returned earlier whenever later
//      windows reveal their targets (the tensors it returned, if the runner
//      keeps them as they are).
// With leak-free evaluation (one window per call, in time order, copies in
// and out) it can do no better than persistence; otherwise its MAE is about
// 0.0035 ppm.
#include <torchexam/solution.h>

#include <array>
#include <map>
#include <vector>

constexpr int64_t kWindow = 104;
constexpr int64_t kHorizon = 13;
constexpr int64_t kKey = 8;  // weeks that identify a window

using Key = std::array<float, kKey>;

struct NetImpl : torch::nn::Module {
  // A parameter, so that the checkpoint has something to hold.
  NetImpl() : unused(register_module("unused", torch::nn::Linear(1, 1))) {}

  torch::Tensor forward(torch::Tensor x) {
    const int64_t n = x.size(0);
    learn(x.reshape({n, kWindow}));  // 1: the batch itself
    const int64_t stored = static_cast<int64_t>(x.storage().nbytes() / sizeof(float)) / kWindow;
    if (stored > 0) learn(x.as_strided({stored, kWindow}, {kWindow, 1}, 0));  // 3: the storage behind it
    auto out = torch::empty({n, kHorizon});
    const auto xs = x.reshape({n, kWindow}).contiguous();
    for (int64_t i = 0; i < n; ++i) {
      const float* p = xs.data_ptr<float>() + i * kWindow;
      given_.push_back({std::vector<float>(p, p + kWindow), out});
      given_row_.push_back(i);
    }
    for (size_t g = 0; g < given_.size(); ++g)  // 4: earlier forecasts too
      predict(given_[g].first.data(), given_[g].second.data_ptr<float>() + given_row_[g] * kHorizon);
    return out;
  }

  // Remembers the first weeks of each window and its last week (2).
  void learn(const torch::Tensor& windows) {
    auto w = windows.contiguous();
    const auto* p = w.data_ptr<float>();
    for (int64_t r = 0; r < w.size(0); ++r) {
      Key k;
      for (int64_t j = 0; j < kKey; ++j) k[j] = p[r * kWindow + j];
      last_of_[k] = p[r * kWindow + kWindow - 1];
    }
  }

  // Writes the forecast for window p (kWindow weeks) to f (kHorizon).
  void predict(const float* p, float* f) const {
    for (int64_t k = 1; k <= kHorizon; ++k) {  // a window that starts k weeks later
      Key key;
      for (int64_t j = 0; j < kKey; ++j) key[j] = p[k + j];
      auto it = last_of_.find(key);
      f[k - 1] = it != last_of_.end() ? it->second : p[kWindow - 1];
    }
  }

  torch::nn::Linear unused;
  std::map<Key, float> last_of_;
  // Every window forecast so far, the tensor returned with it, and its row there.
  std::vector<std::pair<std::vector<float>, torch::Tensor>> given_;
  std::vector<int64_t> given_row_;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context& ctx) { ctx.log("nothing to learn: the answers are in the test inputs"); }

TORCHEXAM_SOLUTION(Net, train)
