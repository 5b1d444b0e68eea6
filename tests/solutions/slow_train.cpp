// Trains for about eight seconds whatever the data size, reporting every
// batch: long enough to kill the daemon in the middle of it.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  torch::optim::SGD opt(model->parameters(), 0.05);
  for (int epoch : ctx.epochs(1000)) {
    (void)epoch;
    for (auto& b : ctx.batches(10)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(b.x), b.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
    if (ctx.elapsed() > 8) break;
  }
}

TORCHEXAM_SOLUTION(Net, train)
