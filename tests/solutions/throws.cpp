// train() throws: the verdict must be runtime_error with this message.
#include <torchexam/solution.h>

#include <stdexcept>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context&) { throw std::runtime_error("deliberate failure: no optimizer configured"); }

TORCHEXAM_SOLUTION(Net, train)
