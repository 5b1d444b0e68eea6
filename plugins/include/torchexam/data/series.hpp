// torchexam/data/series.hpp — sliding windows over a time series, the LibTorch
// counterpart of Keras' timeseries_dataset_from_array / tf.data window().
//
// make_windows(series, window, horizon, shift) cuts a series [T] or [T, F]
// (a 1-d series is one feature, F = 1) into N samples:
//
//     x[i] = series[s_i .. s_i + window)                       [window, F]
//     y[i] = series[s_i + window .. s_i + window + horizon), feature 0  [horizon]
//     s_i  = i * shift,  N = (T - window - horizon) / shift + 1
//
// so y is always the `horizon` steps of feature 0 that follow x (the target of
// a multi-feature series must be its column 0). The first window starts at 0;
// trailing steps that cannot fill a whole window + horizon are left out.
// Result: {x [N, window, F], y [N, horizon]} — y is 2-d even for horizon 1 —
// new contiguous tensors of the series' dtype on its device.
//
// Batching and shuffling: Context::batches(w.x, w.y, batch_size) already does
// it. To forecast the steps after the series, a model takes its last `window`
// steps: series.slice(0, T - window).reshape({1, window, F}).
//
// Errors: c10::Error (TORCH_CHECK) for a series that is not 1-d or 2-d, a
// window, horizon or shift below 1, or a series shorter than window + horizon.
// Threads: no shared state.
#pragma once

#include <torch/torch.h>

#include <cstdint>

namespace torchexam::data {

struct Windows {
  torch::Tensor x;  // [N, window, F]
  torch::Tensor y;  // [N, horizon]
};

inline Windows make_windows(const torch::Tensor& series, int64_t window, int64_t horizon, int64_t shift = 1) {
  TORCH_CHECK(series.dim() == 1 || series.dim() == 2, "make_windows: expected a series [T] or [T, F], got shape ",
              series.sizes());
  TORCH_CHECK(window >= 1, "make_windows: window must be >= 1, got ", window);
  TORCH_CHECK(horizon >= 1, "make_windows: horizon must be >= 1, got ", horizon);
  TORCH_CHECK(shift >= 1, "make_windows: shift must be >= 1, got ", shift);
  const auto s = series.dim() == 1 ? series.unsqueeze(1) : series;  // [T, F]
  const int64_t steps = s.size(0), features = s.size(1);
  TORCH_CHECK(steps >= window + horizon, "make_windows: a series of ", steps, " steps is too short for one window of ",
              window, " plus a horizon of ", horizon);
  const int64_t n = (steps - window - horizon) / shift + 1;
  const auto index = torch::TensorOptions().dtype(torch::kLong).device(s.device());
  const auto starts = (torch::arange(n, index) * shift).unsqueeze(1);    // [N, 1]
  const auto x_steps = starts + torch::arange(window, index);            // [N, window]
  const auto y_steps = starts + window + torch::arange(horizon, index);  // [N, horizon]
  return {s.index_select(0, x_steps.flatten()).view({n, window, features}),
          s.select(1, 0).index_select(0, y_steps.flatten()).view({n, horizon})};
}

}  // namespace torchexam::data
