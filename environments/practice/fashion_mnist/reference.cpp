// Reference solution for fashion_mnist: a small CNN with batch norm and
// dropout, Adam with a step learning-rate schedule. Never copied into a
// candidate's workspace.
#include <torchexam/solution.h>

namespace nn = torch::nn;

struct NetImpl : nn::Module {
  NetImpl()
      : conv1(register_module("conv1", nn::Conv2d(nn::Conv2dOptions(1, 32, 3).padding(1)))),
        bn1(register_module("bn1", nn::BatchNorm2d(32))),
        conv2(register_module("conv2", nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)))),
        bn2(register_module("bn2", nn::BatchNorm2d(64))),
        fc1(register_module("fc1", nn::Linear(64 * 7 * 7, 128))),
        drop(register_module("drop", nn::Dropout(0.3))),
        fc2(register_module("fc2", nn::Linear(128, 10))) {}

  torch::Tensor forward(torch::Tensor x) {
    x = torch::max_pool2d(torch::relu(bn1(conv1(x))), 2);  // [N, 32, 14, 14]
    x = torch::max_pool2d(torch::relu(bn2(conv2(x))), 2);  // [N, 64, 7, 7]
    x = drop(torch::relu(fc1(x.flatten(1))));
    return fc2(x);
  }

  nn::Conv2d conv1;
  nn::BatchNorm2d bn1;
  nn::Conv2d conv2;
  nn::BatchNorm2d bn2;
  nn::Linear fc1;
  nn::Dropout drop;
  nn::Linear fc2;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  constexpr int kEpochs = 8;
  constexpr int64_t kBatch = 128;
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(2e-3));
  torch::optim::StepLR schedule(opt, /*step_size=*/3, /*gamma=*/0.4);
  for (int epoch : ctx.epochs(kEpochs)) {
    (void)epoch;
    model->train();
    for (auto& batch : ctx.batches(kBatch)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(batch.x), batch.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
    schedule.step();
  }
}

TORCHEXAM_SOLUTION(Net, train)
