// The test exam's starter: a linear model that trains for two quick epochs.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  torch::optim::Adam opt(model->parameters(), 1e-2);
  for (int epoch : ctx.epochs(2)) {
    (void)epoch;
    for (auto& b : ctx.batches(50)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(b.x), b.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
  }
}

TORCHEXAM_SOLUTION(Net, train)
