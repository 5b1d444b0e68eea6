// Calibration: a deliberately weak real_world_images model. It ignores shape
// and looks only at colour: an alpha-weighted 4x4x4 RGB histogram of the
// stamp, then one linear layer trained full-batch. Should land at 2-3 on the
// ladder.
#include <torchexam/solution.h>

constexpr int64_t kLevels = 4;  // bins per colour channel
constexpr int64_t kBins = kLevels * kLevels * kLevels;

// uint8 RGBA canvases [N, 4, S, S] -> float32 [N, 64]: the share of the
// visible (alpha-weighted) pixels in each colour bin.
torch::Tensor colour_histogram(const torch::Tensor& canvas) {
  const int64_t n = canvas.size(0);
  auto level = canvas.slice(1, 0, 3).to(torch::kLong).div(256 / kLevels, "floor");  // [N, 3, S, S]
  auto bin = (level.select(1, 0) * kLevels + level.select(1, 1)) * kLevels + level.select(1, 2);
  auto weight = canvas.select(1, 3).to(torch::kFloat32).div(255);
  auto hist = torch::zeros({n, kBins}).scatter_add_(1, bin.reshape({n, -1}), weight.reshape({n, -1}));
  return hist / hist.sum(1, /*keepdim=*/true).clamp_min(1e-6);
}

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(kBins, 2))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(colour_histogram(x)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  constexpr int kSteps = 300;
  const auto features = colour_histogram(ctx.inputs());
  torch::optim::Adam opt(model->parameters(), 0.05);
  for (int epoch : ctx.epochs(kSteps)) {
    (void)epoch;
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model->fc(features), ctx.targets());
    loss.backward();
    opt.step();
    ctx.report(loss);
  }
}

TORCHEXAM_SOLUTION(Net, train)
