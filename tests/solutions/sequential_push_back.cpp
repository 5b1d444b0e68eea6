// A module without forward() (it is misspelt "forwrd") pushed into a
// torch::nn::Sequential: g++ reports the error inside LibTorch's headers
// (AnyModule), and it must be shown on the push_back line below.
#include <torchexam/solution.h>

struct FlattenImpl : torch::nn::Module {
  torch::Tensor forwrd(torch::Tensor x) { return x.flatten(1); }
};
TORCH_MODULE(Flatten);

struct NetImpl : torch::nn::Module {
  NetImpl() {
    layers->push_back(Flatten());
    layers->push_back(torch::nn::Linear(784, 10));
    register_module("layers", layers);
  }
  torch::Tensor forward(torch::Tensor x) { return layers->forward(x); }
  torch::nn::Sequential layers;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  torch::optim::SGD opt(model->parameters(), 0.1);
  for (auto& b : ctx.batches(64)) {
    opt.zero_grad();
    auto loss = torch::nn::functional::cross_entropy(model(b.x), b.y);
    loss.backward();
    opt.step();
  }
}

TORCHEXAM_SOLUTION(Net, train)
