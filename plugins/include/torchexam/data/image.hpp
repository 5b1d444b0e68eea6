// torchexam/data/image.hpp — image batch transforms, the LibTorch counterparts
// of Keras' Resizing and Random* preprocessing layers, and the crop the
// real_world_images task needs.
//
// Batches are floating-point tensors [N, C, H, W] on any device; every
// function returns a new tensor of the same dtype and device and leaves its
// input alone. Pixel values are never clamped: a transform may leave the
// range your pixels were in (brightness), and the geometric ones fill what
// comes from outside the image with 0 and interpolate bilinearly.
//
// Randomness: each random_* draws one set of parameters per image, on the CPU,
// from LibTorch's default generator, so torch::manual_seed — which the harness
// calls with the task's seed before train() — makes them reproducible. Each
// call advances that generator. Apply them while training only: forward() in
// evaluation must not depend on a random draw.
//
// Geometric transforms keep the image centre fixed and work in pixel units,
// so a rotation of a non-square image does not shear it.
//
// The real_world_images task gives each image as an RGBA uint8 canvas
// [4, S, S] with the image at the top left and alpha 0 elsewhere; crop_to_alpha
// cuts out the part with alpha > 0, and resize brings it to a fixed size:
//
//     auto img = torchexam::data::crop_to_alpha(x[i]);                // [4, h, w]
//     auto fixed = torchexam::data::resize(img.unsqueeze(0), 64, 64);  // [1, 4, 64, 64]
//
// Errors: c10::Error (TORCH_CHECK) naming the function: a batch that is not a
// floating-point [N, C, H, W], a parameter out of its range, a canvas with no
// pixel of alpha > 0. Threads: no state of their own; concurrent calls share
// (and race on the order of draws from) the default generator.
#pragma once

#include <c10/util/MathConstants.h>
#include <torch/torch.h>

#include <cstdint>

namespace torchexam::data {

namespace detail {

inline void check_batch(const torch::Tensor& batch, const char* fn) {
  TORCH_CHECK(batch.dim() == 4, fn, ": expected a batch [N, C, H, W], got shape ", batch.sizes());
  TORCH_CHECK(batch.is_floating_point(), fn, ": expected a floating-point batch, got ", batch.dtype());
}

// n draws, uniform in [lo, hi), float64 on the CPU, from the default generator.
inline torch::Tensor uniform(int64_t n, double lo, double hi) {
  return torch::rand({n}, torch::kFloat64) * (hi - lo) + lo;
}

// Resamples each image through its affine map theta[i] ([N, 2, 3], in the
// normalized coordinates of affine_grid): output at p takes input at theta p.
inline torch::Tensor warp(const torch::Tensor& batch, const torch::Tensor& theta) {
  namespace F = torch::nn::functional;
  const auto grid = F::affine_grid(theta.to(batch.options()), batch.sizes(), /*align_corners=*/false);
  return F::grid_sample(
      batch, grid, F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kZeros).align_corners(false));
}

// theta [N, 2, 3] from per-image 2x2 matrices (each [N]) and translations.
inline torch::Tensor affine(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& tx,
                            const torch::Tensor& c, const torch::Tensor& d, const torch::Tensor& ty) {
  return torch::stack({torch::stack({a, b, tx}, 1), torch::stack({c, d, ty}, 1)}, 1);
}

}  // namespace detail

// Bilinear resize to [N, C, h, w] (align_corners false, as Keras). A single
// image [C, H, W] is accepted too and gives [C, h, w]. antialias low-pass
// filters first when shrinking (recommended for large reductions).
inline torch::Tensor resize(const torch::Tensor& images, int64_t h, int64_t w, bool antialias = false) {
  TORCH_CHECK(images.dim() == 3 || images.dim() == 4, "resize: expected [N, C, H, W] or [C, H, W], got shape ",
              images.sizes());
  TORCH_CHECK(images.is_floating_point(), "resize: expected floating-point images, got ", images.dtype());
  TORCH_CHECK(h >= 1 && w >= 1, "resize: the target size must be positive, got ", h, "x", w);
  namespace F = torch::nn::functional;
  const auto batch = images.dim() == 3 ? images.unsqueeze(0) : images;
  auto out = F::interpolate(batch, F::InterpolateFuncOptions()
                                       .size(std::vector<int64_t>{h, w})
                                       .mode(torch::kBilinear)
                                       .align_corners(false)
                                       .antialias(antialias));
  return images.dim() == 3 ? out.squeeze(0) : out;
}

// Mirrors each image with probability p: left-right when horizontal, else
// top-bottom.
inline torch::Tensor random_flip(const torch::Tensor& batch, double p = 0.5, bool horizontal = true) {
  detail::check_batch(batch, "random_flip");
  TORCH_CHECK(p >= 0 && p <= 1, "random_flip: p must be in [0, 1], got ", p);
  const auto flip = (torch::rand({batch.size(0)}, torch::kFloat64) < p).to(batch.device()).view({-1, 1, 1, 1});
  return torch::where(flip, batch.flip({horizontal ? 3 : 2}), batch);
}

// Translates each image by dx * W pixels right and dy * H pixels down, dx and
// dy uniform in [-max_fraction, max_fraction]; zero fill.
inline torch::Tensor random_shift(const torch::Tensor& batch, double max_fraction) {
  detail::check_batch(batch, "random_shift");
  TORCH_CHECK(max_fraction >= 0 && max_fraction <= 1, "random_shift: max_fraction must be in [0, 1], got ",
              max_fraction);
  const int64_t n = batch.size(0);
  const auto dx = detail::uniform(n, -max_fraction, max_fraction);
  const auto dy = detail::uniform(n, -max_fraction, max_fraction);
  const auto one = torch::ones({n}, torch::kFloat64), zero = torch::zeros({n}, torch::kFloat64);
  // The normalized axis spans 2 units per image width.
  return detail::warp(batch, detail::affine(one, zero, -2 * dx, zero, one, -2 * dy));
}

// Zooms each image about its centre by a factor uniform in [min_factor,
// max_factor]: > 1 enlarges (the border is cut off), < 1 shrinks (zero
// border).
inline torch::Tensor random_scale(const torch::Tensor& batch, double min_factor, double max_factor) {
  detail::check_batch(batch, "random_scale");
  TORCH_CHECK(min_factor > 0 && min_factor <= max_factor, "random_scale: expected 0 < min_factor <= max_factor, got ",
              min_factor, " and ", max_factor);
  const int64_t n = batch.size(0);
  const auto inv = 1.0 / detail::uniform(n, min_factor, max_factor);
  const auto zero = torch::zeros({n}, torch::kFloat64);
  return detail::warp(batch, detail::affine(inv, zero, zero, zero, inv, zero));
}

// Rotates each image about its centre by an angle uniform in [-max_degrees,
// max_degrees]; zero fill.
inline torch::Tensor random_rotation(const torch::Tensor& batch, double max_degrees) {
  detail::check_batch(batch, "random_rotation");
  TORCH_CHECK(max_degrees >= 0 && max_degrees <= 180, "random_rotation: max_degrees must be in [0, 180], got ",
              max_degrees);
  const int64_t n = batch.size(0);
  const auto angle = detail::uniform(n, -max_degrees, max_degrees) * (c10::pi<double> / 180);
  const auto c = angle.cos(), s = angle.sin();
  // Rotation in pixels, R, is D^-1 R D in normalized coordinates, D = diag(W/2, H/2).
  const double h_over_w = static_cast<double>(batch.size(2)) / static_cast<double>(batch.size(3));
  const auto zero = torch::zeros({n}, torch::kFloat64);
  return detail::warp(batch, detail::affine(c, -s * h_over_w, zero, s / h_over_w, c, zero));
}

// Adds to each image one value uniform in [-max_delta, max_delta] (the same
// for every channel and pixel). Not clamped: follow with .clamp(0, 1) if your
// pixels must stay in [0, 1].
inline torch::Tensor random_brightness(const torch::Tensor& batch, double max_delta) {
  detail::check_batch(batch, "random_brightness");
  TORCH_CHECK(max_delta >= 0, "random_brightness: max_delta must be >= 0, got ", max_delta);
  const auto delta = detail::uniform(batch.size(0), -max_delta, max_delta);
  return batch + delta.to(batch.options()).view({-1, 1, 1, 1});
}

// The smallest box holding every pixel with alpha > 0 of an RGBA uint8 canvas
// [4, H, W], as float [4, h, w] with values in [0, 1] (byte / 255), alpha
// kept as channel 3.
inline torch::Tensor crop_to_alpha(const torch::Tensor& rgba) {
  TORCH_CHECK(rgba.scalar_type() == torch::kUInt8, "crop_to_alpha: expected a uint8 canvas, got ", rgba.dtype());
  TORCH_CHECK(rgba.dim() == 3 && rgba.size(0) == 4, "crop_to_alpha: expected an RGBA canvas [4, H, W], got shape ",
              rgba.sizes());
  const auto opaque = rgba[3] > 0;  // [H, W]
  const auto rows = opaque.any(1).nonzero().flatten().cpu();
  const auto cols = opaque.any(0).nonzero().flatten().cpu();
  TORCH_CHECK(rows.numel() > 0, "crop_to_alpha: the canvas has no pixel with alpha > 0");
  const int64_t top = rows[0].item<int64_t>(), bottom = rows[-1].item<int64_t>() + 1;
  const int64_t left = cols[0].item<int64_t>(), right = cols[-1].item<int64_t>() + 1;
  return rgba.slice(1, top, bottom).slice(2, left, right).to(torch::kFloat32).div(255);
}

}  // namespace torchexam::data
