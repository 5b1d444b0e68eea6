// A LibTorch shape error inside train(): runtime_error with LibTorch's
// message, not a crash and not a stack trace.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context& ctx) {
  auto a = torch::ones({3, 4});
  auto b = torch::ones({5, 6});
  ctx.report(torch::matmul(a, b).sum());
}

TORCHEXAM_SOLUTION(Net, train)
