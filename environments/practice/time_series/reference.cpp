// Reference solution for time_series: an MLP with one hidden layer over the
// 104-week window seen relative to its last value, predicting the change
// from that last value for each of the 13 weeks ahead. Working with
// differences makes the model independent of the level of CO2, which keeps
// rising past anything in the training years; two years of history show it
// the seasonal cycle. Adam, L1 loss (the metric is MAE). Never copied into a
// candidate's workspace.
#include <torchexam/solution.h>

namespace nn = torch::nn;

constexpr int64_t kWindow = 104;
constexpr int64_t kHorizon = 13;
constexpr int64_t kHidden = 128;
constexpr double kScale = 2.0;  // ppm: brings the differences to about unit size

struct NetImpl : nn::Module {
  NetImpl()
      : hidden(register_module("hidden", nn::Linear(kWindow, kHidden))),
        out(register_module("out", nn::Linear(kHidden, kHorizon))) {}

  // x: float32 [N, 104, 1] ppm -> float32 [N, 13] ppm
  torch::Tensor forward(torch::Tensor x) {
    x = x.squeeze(-1);                             // [N, 104]
    auto last = x.slice(1, kWindow - 1, kWindow);  // [N, 1]
    auto h = (x - last) / kScale;
    h = torch::relu(hidden(h));
    return last + out(h) * kScale;
  }

  nn::Linear hidden, out;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  constexpr int kEpochs = 150;
  constexpr int64_t kBatch = 64;
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-3).weight_decay(1e-5));
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
