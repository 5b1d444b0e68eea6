// Reference solution for regression: an MLP with one hidden layer that
// standardizes its inputs (and scales its output) with statistics of the
// training split, kept as registered buffers so the evaluation process gets
// them from the checkpoint. Adam with a little weight decay on the L1 loss
// (the metric is MAE). Bigger or longer-trained networks overfit 314 cars.
// Never copied into a candidate's workspace.
#include <torchexam/solution.h>

namespace nn = torch::nn;

constexpr int64_t kFeatures = 9;
constexpr int64_t kHidden = 64;

struct NetImpl : nn::Module {
  NetImpl()
      : x_mean(register_buffer("x_mean", torch::zeros({kFeatures}))),
        x_std(register_buffer("x_std", torch::ones({kFeatures}))),
        y_mean(register_buffer("y_mean", torch::zeros({1}))),
        y_std(register_buffer("y_std", torch::ones({1}))),
        hidden(register_module("hidden", nn::Linear(kFeatures, kHidden))),
        out(register_module("out", nn::Linear(kHidden, 1))) {}

  // Stores the training split's statistics. The one-hot origin columns are
  // standardized too, which does no harm.
  void fit_scaler(const torch::Tensor& x, const torch::Tensor& y) {
    torch::NoGradGuard no_grad;
    x_mean.copy_(x.mean(0));
    x_std.copy_(x.std(0).clamp_min(1e-6));
    y_mean.copy_(y.mean(0));
    y_std.copy_(y.std(0).clamp_min(1e-6));
  }

  // x: float32 [N, 9] raw features -> mpg float32 [N, 1]
  torch::Tensor forward(torch::Tensor x) {
    x = (x - x_mean) / x_std;
    x = torch::relu(hidden(x));
    return out(x) * y_std + y_mean;
  }

  torch::Tensor x_mean, x_std, y_mean, y_std;
  nn::Linear hidden, out;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  constexpr int kEpochs = 150;
  constexpr int64_t kBatch = 32;
  model->fit_scaler(ctx.inputs(), ctx.targets());
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(3e-3).weight_decay(1e-4));
  torch::optim::StepLR schedule(opt, /*step_size=*/50, /*gamma=*/0.3);
  for (int epoch : ctx.epochs(kEpochs)) {
    (void)epoch;
    model->train();
    for (auto& batch : ctx.batches(kBatch)) {
      opt.zero_grad();
      auto loss = torch::l1_loss(model(batch.x), batch.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
    schedule.step();
  }
}

TORCHEXAM_SOLUTION(Net, train)
