// Spam or ham: classify e-mail messages from their text.
// Read README.md for the data, the output contract and the scoring.
#include <torchexam/data/text.hpp>  // row_to_string, rows_to_strings, tokenize, TextVectorizer
#include <torchexam/solution.h>

constexpr int64_t kFeatures = 1;

struct NetImpl : torch::nn::Module {
  NetImpl() {
    // TODO: define your layers, e.g. an embedding bag over token ids:
    //   bag = register_module("bag", torch::nn::EmbeddingBag(...));
    out = register_module("out", torch::nn::Linear(kFeatures, 2));
  }

  // TODO: turn each message into numbers: get its text with
  // torchexam::data::row_to_string(x[i]), split it into tokens, map the
  // tokens to ids (hash them, or keep a vocabulary in a registered buffer;
  // see README.md) and feed the ids to your layers.
  torch::Tensor features(const torch::Tensor& x) { return torch::zeros({x.size(0), kFeatures}); }

  // x: uint8 [N, 2048], one message per row -> logits float32 [N, 2]
  torch::Tensor forward(torch::Tensor x) { return out(features(x)); }

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
