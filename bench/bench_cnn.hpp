// The CNN both sides of bench/runner_overhead train: the fashion_mnist
// reference architecture. Shared so the two sides run the very same model.
#pragma once

#include <torch/torch.h>

namespace bench {
namespace nn = torch::nn;

struct CnnImpl : nn::Module {
  CnnImpl()
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)))),
        bn1(register_module("bn1", nn::BatchNorm2d(32))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)))),
        bn2(register_module("bn2", nn::BatchNorm2d(64))),
        fc1(register_module("fc1", nn::Linear(64 * 7 * 7, 128))),
        fc2(register_module("fc2", nn::Linear(128, 10))) {}
  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(bn1(conv1(x))), 2);
    x = torch::max_pool2d(torch::relu(bn2(conv2(x))), 2);
    return fc2(torch::relu(fc1(x.flatten(1))));
  }
  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Linear fc1, fc2;
};
TORCH_MODULE(Cnn);

constexpr int64_t kBatch = 128;
constexpr int64_t kWarmup = 5;
constexpr int64_t kSteps = 150;

// Trains `steps` batches (after a warm-up) and returns samples per second of
// the timed part. `batch_at(i)` gives the i-th batch.
template <class BatchAt>
double train_steps(Cnn& model, BatchAt&& batch_at) {
  torch::optim::Adam opt(model->parameters(), 1e-3);
  auto step = [&](int64_t i) {
    auto [x, y] = batch_at(i);
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model(x), y);
    loss.backward();
    opt.step();
  };
  for (int64_t i = 0; i < kWarmup; ++i) step(i);
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < kSteps; ++i) step(kWarmup + i);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return static_cast<double>(kSteps * kBatch) / s;
}

}  // namespace bench
