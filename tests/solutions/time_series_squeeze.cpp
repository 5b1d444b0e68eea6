// A time_series model that drops every size-1 dimension with squeeze(): right
// for a batch of 2 or more ([N, 104, 1] -> [N, 104]), wrong for a batch of 1
// ([1, 104, 1] -> [104], so it returns [13]). The task evaluates one window
// per forward() call, so the contract check must fail it before training.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(104, 13))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.squeeze()); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context& ctx) { ctx.log("train() must not be reached"); }

TORCHEXAM_SOLUTION(Net, train)
