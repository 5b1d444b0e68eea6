// Test tool: writes TorchScript models for the fashion_mnist contract,
// defined in TorchScript source through LibTorch's C++ API (no Python).
//
//   make_torchscript good  OUT.pt   a linear model that recognises the e2e data
//   make_torchscript wrong OUT.pt   returns [N, 7]: the contract must catch it
//   make_torchscript tuple OUT.pt   returns a tuple, not a tensor
#include <torch/script.h>

#include <cstdio>
#include <string>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_torchscript good|wrong|tuple OUT.pt\n");
    return 2;
  }
  const std::string kind = argv[1];
  torch::jit::Module m("Model");
  // Weights that map "pixel i lit where i % 10 == label" (the pattern the
  // e2e data generator draws) to that label.
  auto w = torch::zeros({784, 10});
  for (int i = 0; i < 784; ++i) w[i][i % 10] = 1.0;
  m.register_parameter("w", w, /*is_buffer=*/false);
  if (kind == "good") {
    m.define("def forward(self, x):\n    return x.flatten(1) @ self.w\n");
  } else if (kind == "wrong") {
    m.define("def forward(self, x):\n    return (x.flatten(1) @ self.w)[:, :7]\n");
  } else if (kind == "tuple") {
    m.define("def forward(self, x):\n    y = x.flatten(1) @ self.w\n    return (y, y)\n");
  } else {
    std::fprintf(stderr, "unknown kind '%s'\n", kind.c_str());
    return 2;
  }
  m.save(argv[2]);
  return 0;
}
