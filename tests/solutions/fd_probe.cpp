// Logs every open descriptor above stderr as "fd N -> TARGET", so a test can
// check that nothing the harness had open leaked into candidate code.
#include <torchexam/solution.h>

#include <dirent.h>
#include <unistd.h>

struct NetImpl : torch::nn::Module {
  NetImpl() : fc(register_module("fc", torch::nn::Linear(784, 10))) {}
  torch::Tensor forward(torch::Tensor x) { return fc(x.flatten(1)); }
  torch::nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net&, torchexam::Context& ctx) {
  DIR* d = opendir("/proc/self/fd");
  while (dirent* e = readdir(d)) {
    const int fd = std::atoi(e->d_name);
    if (fd <= 2 || fd == dirfd(d)) continue;
    char target[512] = {};
    const std::string link = std::string("/proc/self/fd/") + e->d_name;
    if (readlink(link.c_str(), target, sizeof target - 1) < 0) continue;
    ctx.log("fd " + std::to_string(fd) + " -> " + target);
  }
  closedir(d);
}

TORCHEXAM_SOLUTION(Net, train)
