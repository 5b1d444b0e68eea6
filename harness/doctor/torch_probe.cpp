// torchexam-torch-probe — proves that LibTorch loads and computes in a fresh
// process: one line of JSON on stdout,
//   {"tensor_ok":true,"version":"1.13.0","cuda":false,"cxx11_abi":1,"error":""}
// Exit status 0 when the tensor operation gave the right answer, 1 otherwise.
// Run by `torchexam doctor` (harness/doctor/toolchain_checks.cpp).
#include <torch/torch.h>

#include <boost/json.hpp>

#include <iostream>

int main() {
  boost::json::object out{{"tensor_ok", false},
                          {"version", TORCH_VERSION},
                          {"cuda", false},
                          {"cxx11_abi", _GLIBCXX_USE_CXX11_ABI},
                          {"error", ""}};
  try {
    at::set_num_threads(1);
    const torch::Tensor a = torch::arange(1, 5, torch::kFloat32).reshape({2, 2});  // [[1, 2], [3, 4]]
    const torch::Tensor product = torch::mm(a, a);                                 // [[7, 10], [15, 22]]
    const torch::Tensor expected = torch::tensor({7.0f, 10.0f, 15.0f, 22.0f}).reshape({2, 2});
    out["tensor_ok"] = torch::equal(product, expected);
    out["cuda"] = torch::cuda::is_available();
  } catch (const std::exception& e) {
    out["error"] = e.what();
  }
  std::cout << boost::json::serialize(out) << std::endl;
  return out["tensor_ok"].as_bool() ? 0 : 1;
}
