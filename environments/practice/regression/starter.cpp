// Auto-MPG: predict a car's fuel economy (miles per gallon) from 9 numbers.
// Read README.md for the features, the output contract and the scoring.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() {
    // TODO: standardize the inputs (README: "Scale your inputs") and define
    // your layers, e.g.
    //   fc1 = register_module("fc1", torch::nn::Linear(9, 64));
    out = register_module("out", torch::nn::Linear(9, 1));
  }

  // x: float32 [N, 9] raw features -> mpg float32 [N, 1]
  torch::Tensor forward(torch::Tensor x) { return out(x); }

  torch::nn::Linear out{nullptr};
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  // TODO: choose an optimizer and a loss, then loop over ctx.epochs(n) and
  // ctx.batches(batch_size): forward, loss, backward, step, ctx.report(loss).
  (void)model;
  ctx.log("the starter does not train yet");
}

TORCHEXAM_SOLUTION(Net, train)
