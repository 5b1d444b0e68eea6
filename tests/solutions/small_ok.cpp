// A small correct solution: an MLP trained for two quick epochs.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc1(register_module("fc1", torch::nn::Linear(784, 64))), fc2(register_module("fc2", torch::nn::Linear(64, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc2(torch::relu(fc1(x.flatten(1)))); }
  torch::nn::Linear fc1, fc2;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  torch::optim::Adam opt(model->parameters(), 1e-2);
  for (int epoch : ctx.epochs(2)) {
    (void)epoch;
    for (auto& b : ctx.batches(64)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(b.x), b.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
  }
}

TORCHEXAM_SOLUTION(Net, train)
