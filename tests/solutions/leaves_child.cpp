// Trains a little, but first forks a child (same session) named
// "texam_child" that would live forever: grading must end with it gone, in
// the PID-namespace mode and in the process-group fallback.
#include <torchexam/solution.h>

#include <sys/prctl.h>
#include <unistd.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  if (fork() == 0) {
    prctl(PR_SET_NAME, "texam_child");
    for (;;) pause();
  }
  torch::optim::SGD opt(model->parameters(), 0.1);
  for (int epoch : ctx.epochs(1)) {
    (void)epoch;
    for (auto& b : ctx.batches(100)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(b.x), b.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
  }
}

TORCHEXAM_SOLUTION(Net, train)
