// The real_world_images task plugin: animal or not, on the photo stamps of
// Debian's tuxpaint-stamps-default (colour cut-outs with transparency).
//
// Data: data_dir holds the folders animals/, food/, plants/ and vehicles/
// (any depth below them). A sample is every colour PNG there except the
// mirrored duplicates (*_mirror.png); grey-scale PNGs and every other file
// (.txt, .ogg, .svg, .dat, ...) are left out. Label 1 for animals/, 0 for the
// other three folders. A sample's key is its path relative to data_dir, e.g.
// "animals/insects/bee.png".
//
// Hidden split: within each of the four folders (so stratified), the 30% of
// files with the smallest FNV-1a 64-bit hash of their key. Both splits are
// ordered by that hash (then key), which mixes the classes. Only score()
// reads the hidden labels.
//
// Inputs: uint8 [N, 4, 128, 128], RGBA. An image whose width or height
// exceeds 128 is downscaled by area averaging (alpha-weighted colour) to fit,
// keeping its aspect ratio; smaller images keep their size. Each image sits
// at the top-left of its canvas; the rest is transparent (alpha 0), and every
// pixel with alpha 0 has RGB 0, so the alpha channel shows each image's
// extent. Targets: int64 [N], 1 = animal. Output: float32 logits [N, 2].
// Metric: accuracy; argmax ties (and NaN rows) count as class 0.
//
// Options: data_dir (default /usr/share/tuxpaint/stamps; the harness passes
// it for `data: tuxpaint-stamps`), limit (keep only the first N training and
// N test samples; for quick checks).
//
// Failure: std::runtime_error naming the file and what is wrong (missing
// folder, unreadable PNG, no samples). Not thread-safe; the ABI asks for none.
#include <torchexam/plugin.hpp>
#include <torchexam/scoring.hpp>

#include <png.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 128;    // canvas side; larger images are downscaled
constexpr int64_t kChannels = 4;  // RGBA
constexpr int64_t kClasses = 2;   // 0 = not an animal, 1 = animal
const std::vector<std::string> kClassNames = {"not an animal", "animal"};  // as the diagnostics name them
constexpr double kTestFraction = 0.3;
constexpr const char* kDefaultDataDir = "/usr/share/tuxpaint/stamps";
constexpr const char* kMirrorSuffix = "_mirror.png";

struct Folder {
  const char* name;
  int64_t label;
};
constexpr std::array<Folder, 4> kFolders = {{{"animals", 1}, {"food", 0}, {"plants", 0}, {"vehicles", 0}}};

struct Sample {
  std::string key;    // path relative to data_dir, '/'-separated
  uint64_t hash = 0;  // FNV-1a of key
  int64_t label = 0;
  bool test = false;
};

using torchexam::fnv1a64;

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// libpng's simplified API; frees its state on every path.
class PngImage {
 public:
  explicit PngImage(const fs::path& path) : path_(path) {
    image_.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image_, path.c_str())) fail();
  }
  ~PngImage() { png_image_free(&image_); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;

  bool is_colour() const { return (image_.format & PNG_FORMAT_FLAG_COLOR) != 0; }
  int64_t width() const { return image_.width; }
  int64_t height() const { return image_.height; }

  // The whole image as 8-bit RGBA rows (sRGB, not premultiplied).
  std::vector<uint8_t> read_rgba() {
    image_.format = PNG_FORMAT_RGBA;
    std::vector<uint8_t> pixels(PNG_IMAGE_SIZE(image_));
    if (!png_image_finish_read(&image_, nullptr, pixels.data(), 0, nullptr)) fail();
    return pixels;
  }

 private:
  [[noreturn]] void fail() {
    std::string why = image_.message;
    png_image_free(&image_);
    throw std::runtime_error(path_.string() + ": cannot read this PNG: " + why);
  }
  fs::path path_;
  png_image image_{};
};

// For each output index along one axis, the source indices it averages and
// their weights (the overlap of source pixel [i, i+1) with the output's box).
struct Tap {
  int64_t index;
  double weight;
};
std::vector<std::vector<Tap>> area_taps(int64_t from, int64_t to) {
  std::vector<std::vector<Tap>> taps(static_cast<size_t>(to));
  const double step = static_cast<double>(from) / static_cast<double>(to);
  for (int64_t o = 0; o < to; ++o) {
    const double lo = static_cast<double>(o) * step, hi = lo + step;
    for (auto i = static_cast<int64_t>(lo); i < from && static_cast<double>(i) < hi; ++i) {
      const double w = std::min(hi, static_cast<double>(i + 1)) - std::max(lo, static_cast<double>(i));
      if (w > 0) taps[static_cast<size_t>(o)].push_back({i, w});
    }
  }
  return taps;
}

// Writes the w x h RGBA image into `canvas` (4 planes of kSide x kSide, zero
// on entry), area-downscaled to fit when a side exceeds kSide.
void place_on_canvas(const std::vector<uint8_t>& rgba, int64_t w, int64_t h, uint8_t* canvas) {
  const double scale = std::min(1.0, static_cast<double>(kSide) / static_cast<double>(std::max(w, h)));
  const int64_t ow = std::clamp<int64_t>(std::llround(static_cast<double>(w) * scale), 1, kSide);
  const int64_t oh = std::clamp<int64_t>(std::llround(static_cast<double>(h) * scale), 1, kSide);
  const auto xs = area_taps(w, ow), ys = area_taps(h, oh);
  constexpr int64_t kPlane = kSide * kSide;
  for (int64_t oy = 0; oy < oh; ++oy) {
    for (int64_t ox = 0; ox < ow; ++ox) {
      double sum[4] = {0, 0, 0, 0}, area = 0;  // colour weighted by alpha
      for (const Tap& ty : ys[static_cast<size_t>(oy)]) {
        for (const Tap& tx : xs[static_cast<size_t>(ox)]) {
          const uint8_t* p = &rgba[static_cast<size_t>((ty.index * w + tx.index) * kChannels)];
          const double wa = ty.weight * tx.weight * p[3];
          sum[0] += wa * p[0];
          sum[1] += wa * p[1];
          sum[2] += wa * p[2];
          sum[3] += wa;
          area += ty.weight * tx.weight;
        }
      }
      const auto alpha = static_cast<uint8_t>(std::lround(sum[3] / area));
      if (alpha == 0) continue;  // transparent: RGBA all zero
      uint8_t* px = canvas + oy * kSide + ox;
      for (int c = 0; c < 3; ++c) px[c * kPlane] = static_cast<uint8_t>(std::lround(sum[c] / sum[3]));
      px[3 * kPlane] = alpha;
    }
  }
}

class RealWorldImages final : public torchexam::TaskBase {
 public:
  explicit RealWorldImages(const std::map<std::string, std::string>& options) {
    torchexam::check_option_keys(options, {"data_dir", "limit"});
    data_dir_ = torchexam::string_option(options, "data_dir", kDefaultDataDir);
    limit_ = torchexam::count_option(options, "limit");
  }

  torchexam_task_info describe() const override {
    torchexam_task_info info{};
    info.name = "real_world_images";
    info.title = "Animal or not: real-world photo stamps";
    info.input = {TORCHEXAM_DTYPE_UINT8, 4, {-1, kChannels, kSide, kSide}};
    info.output = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, kClasses}};
    info.target = {TORCHEXAM_DTYPE_INT64, 1, {-1}};
    info.metric_name = "accuracy";
    info.higher_is_better = 1;
    return info;
  }

  void train_split(torchexam_array& inputs, torchexam_array& targets) override {
    const auto picked = split(false);
    inputs = images(picked);
    std::vector<int64_t> y;
    for (const Sample& s : picked) y.push_back(s.label);
    targets = torchexam::Array::from_vector(std::move(y), TORCHEXAM_DTYPE_INT64, {static_cast<int64_t>(picked.size())});
  }

  torchexam_array test_inputs() override { return images(split(true)); }

  double score(const torchexam_array& predictions) override { return score_with_diagnostics(predictions).metric; }

  // Accuracy, with the confusion matrix and per-class figures.
  torchexam::Scored score_with_diagnostics(const torchexam_array& predictions) override {
    std::vector<int64_t> hidden;
    for (const Sample& s : split(true)) hidden.push_back(s.label);
    return torchexam::scored_classification(predictions, hidden, kClassNames, "float32 logits");
  }

 private:
  // Every sample with its split, ordered by (hash, key). Reads only PNG
  // headers.
  std::vector<Sample> samples() const {
    std::vector<Sample> all;
    for (const Folder& folder : kFolders) {
      const fs::path dir = fs::path(data_dir_) / folder.name;
      if (!fs::is_directory(dir))
        throw std::runtime_error(dir.string() +
                                 ": folder not found; data_dir must hold animals/, food/, "
                                 "plants/ and vehicles/ (the tuxpaint-stamps data set; run `torchexam data`)");
      std::vector<Sample> in_folder;
      for (const auto& entry : fs::recursive_directory_iterator(dir)) {
        if (!entry.is_regular_file() || entry.path().extension() != ".png") continue;
        const std::string key = std::string(folder.name) + "/" + entry.path().lexically_relative(dir).generic_string();
        if (ends_with(key, kMirrorSuffix)) continue;
        if (!PngImage(entry.path()).is_colour()) continue;
        in_folder.push_back({key, fnv1a64(key), folder.label, false});
      }
      if (in_folder.empty()) throw std::runtime_error(dir.string() + ": no colour PNG images found");
      // Stratified: the test part of each folder is its lowest-hash 30%.
      std::sort(in_folder.begin(), in_folder.end(), by_hash);
      const auto n_test = static_cast<size_t>(std::llround(static_cast<double>(in_folder.size()) * kTestFraction));
      for (size_t i = 0; i < n_test; ++i) in_folder[i].test = true;
      all.insert(all.end(), in_folder.begin(), in_folder.end());
    }
    std::sort(all.begin(), all.end(), by_hash);
    return all;
  }

  static bool by_hash(const Sample& a, const Sample& b) { return a.hash != b.hash ? a.hash < b.hash : a.key < b.key; }

  // The training (test = false) or hidden test samples, limit applied.
  std::vector<Sample> split(bool test) const {
    auto all = samples();
    std::erase_if(all, [&](const Sample& s) { return s.test != test; });
    if (limit_ > 0 && all.size() > static_cast<size_t>(limit_)) all.resize(static_cast<size_t>(limit_));
    return all;
  }

  torchexam_array images(const std::vector<Sample>& picked) const {
    const auto n = static_cast<int64_t>(picked.size());
    constexpr int64_t kImage = kChannels * kSide * kSide;
    std::vector<uint8_t> canvas(static_cast<size_t>(n * kImage), 0);
    for (int64_t i = 0; i < n; ++i) {
      PngImage png(fs::path(data_dir_) / picked[static_cast<size_t>(i)].key);
      const int64_t w = png.width(), h = png.height();
      place_on_canvas(png.read_rgba(), w, h, canvas.data() + i * kImage);
    }
    return torchexam::Array::from_vector(std::move(canvas), TORCHEXAM_DTYPE_UINT8, {n, kChannels, kSide, kSide});
  }

  std::string data_dir_;
  int64_t limit_ = 0;
};

}  // namespace

TORCHEXAM_EXPORT_PLUGIN("real_world_images", RealWorldImages)
