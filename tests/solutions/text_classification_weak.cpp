// A deliberately weak text_classification solution, for calibrating the
// ladder: each message becomes its byte histogram (256 frequencies), read by
// one linear layer. It sees which characters a message uses (HTML, '$', '!',
// capitals) but no words, and should land in the middle of the ladder.
#include <torchexam/solution.h>

namespace nn = torch::nn;

constexpr int64_t kByteValues = 256;
constexpr int64_t kClasses = 2;

struct NetImpl : nn::Module {
  NetImpl() : fc(register_module("fc", nn::Linear(kByteValues, kClasses))) {}

  // x: uint8 [N, L], zero-padded -> logits [N, 2]. Padding is not counted.
  torch::Tensor forward(torch::Tensor x) {
    auto ids = x.to(torch::kLong);
    auto counts = torch::zeros({x.size(0), kByteValues}).scatter_add_(1, ids, torch::ones(ids.sizes()));
    counts.select(1, 0).zero_();
    auto freq = counts / counts.sum(1, /*keepdim=*/true).clamp_min(1);
    return fc(freq * 100);  // percent, so the weights need not be large
  }

  nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  constexpr int kEpochs = 5;
  constexpr int64_t kBatch = 64;
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(1e-2));
  for (int epoch : ctx.epochs(kEpochs)) {
    (void)epoch;
    for (auto& batch : ctx.batches(kBatch)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(batch.x), batch.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
  }
}

TORCHEXAM_SOLUTION(Net, train)
