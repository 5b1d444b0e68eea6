// torchexam/data/split.hpp — stratified train/validation split, for the
// classification tasks (Context::split is a plain random split).
//
// stratified_split(labels, fraction) splits each class on its own: of a class
// with n members, round(n * fraction) go to validation, but at least 1 and at
// most n - 1 when n >= 2 (so every such class is seen in both parts), and a
// class with one member goes to training. Which members go is drawn with one
// torch::randperm per class, classes in ascending label order, from
// LibTorch's default CPU generator: the same labels and seed (the harness
// seeds it with the task's seed) give the same split.
//
// labels: an integer tensor [N] (int64 as the tasks give; any integer dtype),
// any device. Result: {train, val}, disjoint int64 index tensors on the CPU,
// each sorted ascending, together covering 0..N-1. Use them with
// index_select:
//
//     auto [train, val] = torchexam::data::stratified_split(ctx.targets(), 0.2);
//     auto x_train = ctx.inputs().index_select(0, train), y_train = ctx.targets().index_select(0, train);
//     auto x_val = ctx.inputs().index_select(0, val), y_val = ctx.targets().index_select(0, val);
//
// Errors: c10::Error (TORCH_CHECK) for labels that are not an integer [N] or a
// fraction outside (0, 1). Threads: no state of its own; concurrent calls
// share the default generator.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <vector>

namespace torchexam::data {

struct TrainValSplit {
  torch::Tensor train;  // int64 [N_train], ascending
  torch::Tensor val;    // int64 [N_val], ascending
};

inline TrainValSplit stratified_split(const torch::Tensor& labels, double validation_fraction) {
  TORCH_CHECK(labels.dim() == 1, "stratified_split: expected labels [N], got shape ", labels.sizes());
  TORCH_CHECK(torch::isIntegralType(labels.scalar_type(), /*includeBool=*/false),
              "stratified_split: expected integer class labels, got ", labels.dtype());
  TORCH_CHECK(validation_fraction > 0 && validation_fraction < 1,
              "stratified_split: validation_fraction must be in (0, 1), got ", validation_fraction);
  const auto l = labels.to(torch::kLong).contiguous().cpu();
  const auto* p = l.data_ptr<int64_t>();
  std::map<int64_t, std::vector<int64_t>> members;  // ascending labels
  for (int64_t i = 0; i < l.numel(); ++i) members[p[i]].push_back(i);

  std::vector<torch::Tensor> train, val;
  for (auto& [label, indices] : members) {
    const auto n = static_cast<int64_t>(indices.size());
    int64_t n_val = 0;
    if (n >= 2) n_val = std::clamp<int64_t>(std::llround(static_cast<double>(n) * validation_fraction), 1, n - 1);
    const auto shuffled = torch::tensor(indices, torch::kLong).index_select(0, torch::randperm(n, torch::kLong));
    val.push_back(shuffled.slice(0, 0, n_val));
    train.push_back(shuffled.slice(0, n_val, n));
  }
  auto sorted = [](const std::vector<torch::Tensor>& parts) {
    return parts.empty() ? torch::empty({0}, torch::kLong) : std::get<0>(torch::cat(parts).sort());
  };
  return {sorted(train), sorted(val)};
}

}  // namespace torchexam::data
