// Calibration: a plain one-hidden-layer MLP, three epochs. Should land in the
// middle of the fashion_mnist ladder.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc1(register_module("fc1", torch::nn::Linear(784, 128))), fc2(register_module("fc2", torch::nn::Linear(128, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc2(torch::relu(fc1(x.flatten(1)))); }
  torch::nn::Linear fc1, fc2;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  torch::optim::Adam opt(model->parameters(), 1e-3);
  for (int epoch : ctx.epochs(3)) {
    (void)epoch;
    for (auto& b : ctx.batches(128)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(b.x), b.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
  }
}

TORCHEXAM_SOLUTION(Net, train)
