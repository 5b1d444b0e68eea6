// forward() returns 5 classes instead of 10: the contract check must catch it
// before training, with expected and actual shapes.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 5))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context& ctx) { ctx.log("train() must not be reached"); }

TORCHEXAM_SOLUTION(Net, train)
