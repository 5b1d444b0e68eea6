// Reference solution for real_world_images: each stamp is cropped to the box
// its alpha channel covers, padded to a square and resized to 64x64; a small
// CNN with batch norm classifies the crop and its mirror image. Training
// augments with random flips, rotation, scale, shift and brightness. Every
// random draw comes from the generator the harness seeds, so a run is
// repeatable. The crop and the augmentation are written inline here;
// <torchexam/data/image.hpp> offers the same building blocks. Never copied
// into a candidate's workspace.
#include <torchexam/solution.h>

#include <algorithm>
#include <vector>

namespace nn = torch::nn;
namespace F = torch::nn::functional;

constexpr int64_t kCrop = 64;            // side of the square the network sees
constexpr double kMaxRotation = 0.26;    // radians, about 15 degrees
constexpr double kMaxScale = 0.15;       // zoom in or out by up to 15%
constexpr double kMaxShift = 0.10;       // in affine_grid's [-1, 1] units: 5% of the side
constexpr double kMaxBrightness = 0.20;  // colours times 0.8 .. 1.2

// uint8 RGBA canvases [N, 4, S, S] -> float32 [N, 4, 64, 64] in [0, 1]: each
// image cropped to where alpha > 0, centred on a transparent square, resized.
// Colours are premultiplied by alpha, so the background is 0 in all channels.
torch::Tensor crops(const torch::Tensor& canvas) {
  auto x = canvas.to(torch::kFloat32).div(255);
  auto alpha = x.slice(1, 3, 4);
  x = torch::cat({x.slice(1, 0, 3) * alpha, alpha}, 1);
  std::vector<torch::Tensor> out;
  for (int64_t i = 0; i < x.size(0); ++i) {
    auto mask = x[i][3] > 0;
    auto rows = mask.any(1).nonzero(), cols = mask.any(0).nonzero();
    if (rows.numel() == 0) {
      out.push_back(torch::zeros({4, kCrop, kCrop}));
      continue;
    }
    const auto y0 = rows.min().item<int64_t>(), y1 = rows.max().item<int64_t>() + 1;
    const auto x0 = cols.min().item<int64_t>(), x1 = cols.max().item<int64_t>() + 1;
    const int64_t h = y1 - y0, w = x1 - x0, side = std::max(h, w);
    const int64_t left = (side - w) / 2, top = (side - h) / 2;
    auto crop =
        F::pad(x[i].slice(1, y0, y1).slice(2, x0, x1), F::PadFuncOptions({left, side - w - left, top, side - h - top}));
    out.push_back(F::interpolate(crop.unsqueeze(0), F::InterpolateFuncOptions()
                                                        .size(std::vector<int64_t>{kCrop, kCrop})
                                                        .mode(torch::kBilinear)
                                                        .align_corners(false)
                                                        .antialias(true))
                      .squeeze(0));
  }
  return torch::stack(out);
}

// Training only: a random flip, rotation, zoom and shift per image (one affine
// warp), then a random brightness.
torch::Tensor augment(const torch::Tensor& x) {
  const int64_t n = x.size(0);
  auto uniform = [&](double limit) { return (torch::rand({n}) * 2 - 1) * limit; };
  auto angle = uniform(kMaxRotation), scale = 1 + uniform(kMaxScale);
  auto flip = torch::where(torch::rand({n}) < 0.5, -scale, scale);
  auto c = torch::cos(angle), s = torch::sin(angle);
  auto theta = torch::stack({torch::stack({c * flip, -s * scale, uniform(kMaxShift)}, 1),
                             torch::stack({s * flip, c * scale, uniform(kMaxShift)}, 1)},
                            1);  // [N, 2, 3]
  auto grid = F::affine_grid(theta, {n, 4, kCrop, kCrop}, /*align_corners=*/false);
  auto out = F::grid_sample(x, grid, F::GridSampleFuncOptions().align_corners(false));
  auto gain = (1 + uniform(kMaxBrightness)).view({n, 1, 1, 1});
  return torch::cat({(out.slice(1, 0, 3) * gain).clamp(0, 1), out.slice(1, 3, 4)}, 1);
}

nn::Sequential conv_block(int64_t in, int64_t out) {
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(in, out, 3).padding(1).bias(false)), nn::BatchNorm2d(out),
                        nn::ReLU(), nn::MaxPool2d(2));
}

struct NetImpl : nn::Module {
  NetImpl()
      : block1(register_module("block1", conv_block(4, 16))),    // -> 32x32
        block2(register_module("block2", conv_block(16, 32))),   // -> 16x16
        block3(register_module("block3", conv_block(32, 64))),   // -> 8x8
        block4(register_module("block4", conv_block(64, 128))),  // -> 4x4
        drop(register_module("drop", nn::Dropout(0.3))),
        fc(register_module("fc", nn::Linear(128, 2))) {}

  // x: uint8 [N, 4, 128, 128] RGBA canvases -> logits float32 [N, 2],
  // averaged over the image and its mirror.
  torch::Tensor forward(torch::Tensor x) {
    auto c = crops(x);
    return (classify(c) + classify(c.flip({3}))) / 2;
  }

  // x: crops float32 [N, 4, 64, 64] -> logits [N, 2]
  torch::Tensor classify(torch::Tensor x) {
    x = (x - 0.5) * 2;
    for (auto block : {block1, block2, block3, block4}) x = block->forward(x);
    return fc(drop(x.mean({2, 3})));
  }

  nn::Sequential block1, block2, block3, block4;
  nn::Dropout drop;
  nn::Linear fc;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  constexpr int kEpochs = 40;
  constexpr int64_t kBatch = 32;
  const auto x = crops(ctx.inputs());  // once: augmentation works on the crops
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(3e-3).weight_decay(1e-3));
  torch::optim::StepLR schedule(opt, /*step_size=*/15, /*gamma=*/0.3);
  for (int epoch : ctx.epochs(kEpochs)) {
    (void)epoch;
    model->train();
    for (auto& batch : ctx.batches(x, ctx.targets(), kBatch)) {
      opt.zero_grad();
      auto loss = F::cross_entropy(model->classify(augment(batch.x)), batch.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
    schedule.step();
  }
}

TORCHEXAM_SOLUTION(Net, train)
