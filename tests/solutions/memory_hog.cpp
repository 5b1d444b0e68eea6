// Allocates 6 GB in train(): more than the task's 4 GiB memory limit, less
// than the machine has, so only the limit can stop it (memory_limit).
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context& ctx) {
  auto big = torch::ones({1'500'000'000});  // 6 GB of float32
  ctx.report(big.sum());
}

TORCHEXAM_SOLUTION(Net, train)
