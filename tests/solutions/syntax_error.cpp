// A missing semicolon on line 10: compile_error pointing at it.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);
void train(Net&, torchexam::Context& ctx) { int unused = 1 ctx.log("x"); }

TORCHEXAM_SOLUTION(Net, train)
