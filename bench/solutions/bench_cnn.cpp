// The runner side of bench/runner_overhead: the same CNN and batches as
// bench/bare_cnn, as a candidate's solution. Logs "samples_per_s <value>".
#include <torchexam/solution.h>

#include "../bench_cnn.hpp"

using Net = bench::Cnn;

void train(Net& model, torchexam::Context& ctx) {
  const auto& x = ctx.inputs();
  const auto& y = ctx.targets();
  const int64_t n = x.size(0);
  auto order = torch::randperm(n, torch::kLong);
  const double sps = bench::train_steps(model, [&](int64_t i) {
    auto idx_b = order.slice(0, (i * bench::kBatch) % (n - bench::kBatch), (i * bench::kBatch) % (n - bench::kBatch) + bench::kBatch);
    ctx.report(0.0);
    return std::make_pair(x.index_select(0, idx_b), y.index_select(0, idx_b));
  });
  ctx.log("samples_per_s " + std::to_string(sps));
}

TORCHEXAM_SOLUTION(Net, train)
