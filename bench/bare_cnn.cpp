// bench/bare_cnn — the bare side of runner_overhead: the same CNN, the same
// data (read with the SDK's IDX reader), the same batches, no harness.
// Prints "samples_per_s <value>".
#include "bench_cnn.hpp"

#include <torchexam/data/idx.hpp>

#include <cstdio>
#include <cstdlib>

int main(int argc, char** argv) {
  const int threads = argc > 1 ? std::atoi(argv[1]) : 2;
  const char* dir = argc > 2 ? argv[2] : "/usr/share/datasets/fashion-mnist";
  at::set_num_threads(threads);
  at::set_num_interop_threads(1);
  torch::manual_seed(42);
  // As the runner sets up every phase (sandbox/runner.hpp), so that the
  // comparison is of the harness, not of LibTorch's deterministic mode.
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  auto idx = torchexam::data::read_idx(std::string(dir) + "/train-images-idx3-ubyte.gz");
  auto lab = torchexam::data::read_idx(std::string(dir) + "/train-labels-idx1-ubyte.gz");
  const int64_t n = idx.dims[0];
  auto x = torch::from_blob(idx.data.data(), {n, 1, 28, 28}, torch::kUInt8).to(torch::kFloat32).div_(255);
  auto y = torch::from_blob(lab.data.data(), {n}, torch::kUInt8).to(torch::kInt64);
  bench::Cnn model;  // built first, as the runner does, so the generator is used in the same order
  auto order = torch::randperm(n, torch::kLong);
  const double sps = bench::train_steps(model, [&](int64_t i) {
    auto idx_b = order.slice(0, (i * bench::kBatch) % (n - bench::kBatch), (i * bench::kBatch) % (n - bench::kBatch) + bench::kBatch);
    return std::make_pair(x.index_select(0, idx_b), y.index_select(0, idx_b));
  });
  std::printf("samples_per_s %.1f\n", sps);
  return 0;
}
