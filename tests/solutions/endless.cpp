// Never finishes, and leaves a setsid() child behind that renames itself
// "texam_orphan": the harness must time out and leave no process behind.
#include <torchexam/solution.h>

#include <sys/prctl.h>
#include <unistd.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context&) {
  if (fork() == 0) {
    setsid();
    prctl(PR_SET_NAME, "texam_orphan");
    for (;;) pause();
  }
  volatile unsigned long spin = 0;
  for (;;) spin = spin + 1;
}

TORCHEXAM_SOLUTION(Net, train)
