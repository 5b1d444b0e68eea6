// Calibration: linear regression on standardized features (the statistics are
// buffers, so they travel with the checkpoint), Adam on the squared error.
// Should land at 2-3 on the regression ladder: a straight line cannot follow
// mpg's curve in weight and horsepower.
#include <torchexam/solution.h>

constexpr int64_t kFeatures = 9;

struct NetImpl : torch::nn::Module {
  NetImpl()
      : x_mean(register_buffer("x_mean", torch::zeros({kFeatures}))),
        x_std(register_buffer("x_std", torch::ones({kFeatures}))),
        fc(register_module("fc", torch::nn::Linear(kFeatures, 1))) {}
  torch::Tensor forward(torch::Tensor x) { return fc((x - x_mean) / x_std); }
  torch::Tensor x_mean, x_std;
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  {
    torch::NoGradGuard no_grad;
    model->x_mean.copy_(ctx.inputs().mean(0));
    model->x_std.copy_(ctx.inputs().std(0).clamp_min(1e-6));
  }
  torch::optim::Adam opt(model->parameters(), 0.1);
  for (int epoch : ctx.epochs(100)) {
    (void)epoch;
    for (auto& b : ctx.batches(32)) {
      opt.zero_grad();
      auto loss = torch::mse_loss(model(b.x), b.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
  }
}

TORCHEXAM_SOLUTION(Net, train)
