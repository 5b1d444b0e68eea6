// torchexam/data/scaler.hpp — feature standardization, the LibTorch
// counterpart of Keras' Normalization layer (sklearn's StandardScaler).
//
// fit(x) learns, per feature, the mean and the population standard deviation
// (divisor N) over every leading dimension of x: x is [N, F] (or [..., F]),
// or [N] for a single feature. A feature whose deviation is 0 — below
// 1e-12 * max(1, |mean|), the rounding noise of a constant column — gets 1,
// so it is centred but not scaled. Statistics are computed in float64 and
// stored in the state's dtype (float32 unless the module was converted).
// transform(x) = (x - mean) / std, inverse_transform(z) = z * std + mean, for
// x [..., F] (or [N] when F = 1), in x's dtype and on x's device.
//
// Before fit() the state is mean 0, std 1, so transform() is the identity (a
// scaler built with no feature count has empty state and is the identity for
// any width). That is deliberate: the runner calls forward() once, before
// train(), to check the output's shape.
//
// State: two tensors, mean() and stddev(), [F]. They are the scaler's own
// tensors, not copies, and every change writes into them in place: fit()
// (copy_, or set_ when F changes), a checkpoint load (set_) and
// module->to(device) (set_data). So register them as buffers and the module
// and the scaler stay in step, through training and through the evaluation
// process, which builds a fresh model and loads parameters and buffers only:
//
//     struct NetImpl : torch::nn::Module {
//       NetImpl() : scaler(kFeatures) {
//         register_buffer("x_mean", scaler.mean());
//         register_buffer("x_std", scaler.stddev());
//         fc = register_module("fc", torch::nn::Linear(kFeatures, 1));
//       }
//       torch::Tensor forward(torch::Tensor x) { return fc(scaler.transform(x)); }
//       torchexam::data::StandardScaler scaler;
//       torch::nn::Linear fc{nullptr};
//     };
//     // train(): model->scaler.fit(ctx.inputs());
//
// Copies of a StandardScaler share their state, as copies of a torch::Tensor
// do. Errors: c10::Error (TORCH_CHECK): fitting on no samples or a
// non-floating tensor, a width that is not F. Threads: fit() mutates the
// state; transforms may run concurrently with each other.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <utility>

namespace torchexam::data {

class StandardScaler {
 public:
  // Identity state for `num_features` features (0: width unknown until fit).
  explicit StandardScaler(int64_t num_features = 0)
      : mean_(torch::zeros({check_features(num_features)})), stddev_(torch::ones({num_features})) {}

  // Adopts existing state (shared, not copied): mean and stddev [F].
  StandardScaler(torch::Tensor mean, torch::Tensor stddev) : mean_(std::move(mean)), stddev_(std::move(stddev)) {
    TORCH_CHECK(mean_.dim() == 1 && stddev_.sizes() == mean_.sizes(),
                "StandardScaler: mean and stddev must both be [F], got shapes ", mean_.sizes(), " and ",
                stddev_.sizes());
  }

  StandardScaler& fit(const torch::Tensor& x) {
    TORCH_CHECK(x.is_floating_point(), "StandardScaler::fit: expected floating-point data, got ", x.dtype());
    TORCH_CHECK(x.dim() >= 1, "StandardScaler::fit: expected data [N, F] or [N], got a scalar");
    const auto rows = x.dim() == 1 ? x.reshape({-1, 1}) : x.reshape({-1, x.size(-1)});
    TORCH_CHECK(rows.size(0) > 0, "StandardScaler::fit: no samples to fit on (shape ", x.sizes(), ")");
    const int64_t f = rows.size(1);
    TORCH_CHECK(num_features() == 0 || num_features() == f, "StandardScaler::fit: the scaler has ", num_features(),
                " features, the data has ", f, " (shape ", x.sizes(), ")");
    torch::NoGradGuard no_grad;
    const auto data = rows.to(torch::kFloat64);
    const auto mean = data.mean(0);
    auto stddev = data.std(0, /*unbiased=*/false);
    stddev = torch::where(stddev < 1e-12 * mean.abs().clamp_min(1), torch::ones_like(stddev), stddev);
    store(mean_, mean);
    store(stddev_, stddev);
    return *this;
  }

  torch::Tensor transform(const torch::Tensor& x) const {
    if (num_features() == 0) return x;
    check_width(x, "transform");
    return (x - mean_.to(x.options())) / stddev_.to(x.options());
  }

  torch::Tensor inverse_transform(const torch::Tensor& z) const {
    if (num_features() == 0) return z;
    check_width(z, "inverse_transform");
    return z * stddev_.to(z.options()) + mean_.to(z.options());
  }

  torch::Tensor fit_transform(const torch::Tensor& x) { return fit(x).transform(x); }

  const torch::Tensor& mean() const { return mean_; }
  const torch::Tensor& stddev() const { return stddev_; }
  int64_t num_features() const { return mean_.numel(); }

 private:
  static int64_t check_features(int64_t n) {
    TORCH_CHECK(n >= 0, "StandardScaler: num_features must be >= 0, got ", n);
    return n;
  }

  // Writes value into state in place, keeping state's dtype and device.
  static void store(torch::Tensor& state, const torch::Tensor& value) {
    const auto v = value.to(state.options());
    if (state.sizes() == v.sizes())
      state.copy_(v);
    else
      state.set_(v);
  }

  void check_width(const torch::Tensor& x, const char* fn) const {
    const bool ok = x.dim() == 1 ? num_features() == 1 : (x.dim() >= 2 && x.size(-1) == num_features());
    TORCH_CHECK(ok, "StandardScaler::", fn, ": expected data [..., ", num_features(), "]",
                num_features() == 1 ? " or [N]" : "", ", got shape ", x.sizes());
  }

  torch::Tensor mean_;
  torch::Tensor stddev_;
};

}  // namespace torchexam::data
