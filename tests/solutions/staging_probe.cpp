// Logs what the training process was given, so a test can check that the
// task reached it only as staged files: "cmdline: ARG ARG ..." (the runner's
// arguments) and "mapped: PATH" for every file mapped into the process
// (the task plugin must not be among them), and "labels: ok" or
// "labels: <error>" for an attempt to open the installed Fashion-MNIST test
// labels by their well-known path.
#include <torchexam/solution.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context& ctx) {
  std::ifstream cmdline("/proc/self/cmdline", std::ios::binary);
  std::string arg, line = "cmdline:";
  while (std::getline(cmdline, arg, '\0')) line += " " + arg;
  ctx.log(line);

  std::ifstream maps("/proc/self/maps");
  std::set<std::string> files;
  for (std::string m; std::getline(maps, m);) {
    const auto slash = m.find('/');
    if (slash != std::string::npos) files.insert(m.substr(slash));
  }
  for (const auto& f : files) ctx.log("mapped: " + f);

  FILE* labels = std::fopen("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", "rb");
  ctx.log(std::string("labels: ") + (labels ? "ok" : std::strerror(errno)));
  if (labels) std::fclose(labels);
}

TORCHEXAM_SOLUTION(Net, train)
