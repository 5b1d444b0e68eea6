// Fashion-MNIST: classify 28x28 clothing images into 10 classes.
// Read README.md for the data, the output contract and the scoring.
#include <torchexam/solution.h>

struct NetImpl : torch::nn::Module {
  NetImpl() {
    // TODO: define your layers, e.g.
    //   fc1 = register_module("fc1", torch::nn::Linear(28 * 28, 128));
    out = register_module("out", torch::nn::Linear(28 * 28, 10));
  }

  // x: float32 [N, 1, 28, 28] -> logits float32 [N, 10]
  torch::Tensor forward(torch::Tensor x) {
    x = x.flatten(1);
    return out(x);
  }

  torch::nn::Linear out{nullptr};
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  // TODO: choose an optimizer, then loop over ctx.epochs(n) and
  // ctx.batches(batch_size): forward, loss, backward, step, ctx.report(loss).
  (void)model;
  ctx.log("the starter does not train yet");
}

TORCHEXAM_SOLUTION(Net, train)
