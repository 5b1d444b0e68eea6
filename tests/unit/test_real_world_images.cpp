// The real_world_images task plugin (Tux Paint stamps, animal or not): its
// contract, which files it takes, its stratified hash split, the canvas it
// puts each image on, and its scoring — on small stamp folders the tests
// write (PNGs encoded here with zlib) and on the installed data set.
#include <doctest/doctest.h>

#include "grading/task_diagnostics.hpp"
#include "plugin_test_util.hpp"
#include <torchexam/plugin.hpp>

#include <boost/json.hpp>

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <set>
#include <string>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 128;
constexpr int64_t kPlane = kSide * kSide;
constexpr int64_t kImage = 4 * kPlane;
constexpr uint8_t kPngRgba = 6;       // PNG colour type: RGB + alpha
constexpr uint8_t kPngGreyAlpha = 4;  // PNG colour type: grey + alpha

std::shared_ptr<torchexam::PluginLibrary> open_plugin() { return torchexam::test::open_task_plugin("real_world_images"); }

fs::path real_data_dir() { return torchexam::test::installed_data_dir("tuxpaint-stamps"); }

using torchexam::test::temp_dir;

void write_file(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A minimal 8-bit PNG: IHDR, one IDAT (filter 0 on every row), IEND.
// `pixels` holds w * h pixels of 4 (RGBA) or 2 (grey + alpha) bytes.
std::string png_bytes(uint32_t w, uint32_t h, uint8_t colour_type, const std::vector<uint8_t>& pixels) {
  auto be32 = [](uint32_t v) {
    return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                       static_cast<char>(v)};
  };
  auto chunk = [&](const std::string& type, const std::string& data) {
    const std::string body = type + data;
    const auto crc = crc32(0, reinterpret_cast<const Bytef*>(body.data()), static_cast<uInt>(body.size()));
    return be32(static_cast<uint32_t>(data.size())) + body + be32(static_cast<uint32_t>(crc));
  };
  const size_t row = static_cast<size_t>(w) * (colour_type == kPngRgba ? 4 : 2);
  std::string raw;
  for (uint32_t y = 0; y < h; ++y) {
    raw += '\0';
    raw.append(reinterpret_cast<const char*>(pixels.data()) + y * row, row);
  }
  uLongf size = compressBound(static_cast<uLong>(raw.size()));
  std::string packed(size, '\0');
  compress(reinterpret_cast<Bytef*>(packed.data()), &size, reinterpret_cast<const Bytef*>(raw.data()),
           static_cast<uLong>(raw.size()));
  packed.resize(size);
  const std::string ihdr = be32(w) + be32(h) + std::string{8, static_cast<char>(colour_type), 0, 0, 0};
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", packed) + chunk("IEND", "");
}

// A w x h opaque RGBA image of one colour.
std::string solid_png(uint32_t w, uint32_t h, uint8_t r, uint8_t g, uint8_t b) {
  std::vector<uint8_t> px;
  for (uint32_t i = 0; i < w * h; ++i) px.insert(px.end(), {r, g, b, 255});
  return png_bytes(w, h, kPngRgba, px);
}

uint64_t fnv1a(const std::string& s) {
  uint64_t h = 14695981039346656037ull;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h;
}

// A small stamp folder. Sample `id` is a 6 x 4 opaque image of colour
// (255 if an animal else 0, id, 7): its label and identity can be read back
// from any canvas pixel. Files the plugin must skip are added too.
struct Synthetic {
  struct Stamp {
    std::string key;
    int64_t label;
    uint8_t id;
  };
  fs::path dir;
  std::vector<Stamp> stamps;

  explicit Synthetic(const fs::path& root) : dir(root) {
    const std::map<std::string, int> counts = {{"animals", 10}, {"food", 5}, {"plants", 4}, {"vehicles", 3}};
    uint8_t id = 1;
    for (const auto& [folder, n] : counts) {
      for (int i = 0; i < n; ++i, ++id) {
        const std::string key = folder + (i % 2 ? "/sub/deeper/" : "/") + "stamp" + std::to_string(i) + ".png";
        const int64_t label = folder == "animals";
        write_file(dir / key, solid_png(6, 4, label ? 255 : 0, id, 7));
        stamps.push_back({key, label, id});
      }
    }
    write_file(dir / "animals/stamp0_mirror.png", solid_png(6, 4, 255, 200, 7));
    write_file(dir / "food/grey.png", png_bytes(2, 2, kPngGreyAlpha, std::vector<uint8_t>(8, 255)));
    write_file(dir / "food/stamp0.txt", "Apple");
    write_file(dir / "plants/stamp0.ogg", "OggS not really");
    write_file(dir / "vehicles/stamp0.svg", "<svg/>");
  }

  // The documented split: per folder, the round(30%) with the smallest
  // FNV-1a hash of the key; each part ordered by (hash, key).
  std::vector<Stamp> part(bool test) const {
    std::map<std::string, std::vector<Stamp>> by_folder;
    for (const Stamp& s : stamps) by_folder[s.key.substr(0, s.key.find('/'))].push_back(s);
    auto by_hash = [](const Stamp& a, const Stamp& b) {
      return fnv1a(a.key) != fnv1a(b.key) ? fnv1a(a.key) < fnv1a(b.key) : a.key < b.key;
    };
    std::vector<Stamp> out;
    for (auto& [folder, members] : by_folder) {
      std::sort(members.begin(), members.end(), by_hash);
      const auto n_test = static_cast<size_t>(std::llround(0.3 * static_cast<double>(members.size())));
      if (test)
        out.insert(out.end(), members.begin(), members.begin() + static_cast<std::ptrdiff_t>(n_test));
      else
        out.insert(out.end(), members.begin() + static_cast<std::ptrdiff_t>(n_test), members.end());
    }
    std::sort(out.begin(), out.end(), by_hash);
    return out;
  }
};

const uint8_t* canvas(const torchexam::Array& a, int64_t i) {
  return static_cast<const uint8_t*>(a.get().data) + i * kImage;
}

// The id (green of pixel 0, 0) of every canvas.
std::vector<uint8_t> ids_of(const torchexam::Array& a) {
  std::vector<uint8_t> out;
  for (int64_t i = 0; i < a.get().shape[0]; ++i) out.push_back(canvas(a, i)[kPlane]);
  return out;
}

torchexam::Array logits(const std::vector<int64_t>& classes) {
  std::vector<float> v;
  for (int64_t c : classes) v.insert(v.end(), {c == 0 ? 1.f : 0.f, c == 1 ? 1.f : 0.f});
  return torchexam::Array(
      torchexam::Array::from_vector(v, TORCHEXAM_DTYPE_FLOAT32, {static_cast<int64_t>(classes.size()), 2}));
}

std::string score_error(torchexam::Task& task, const torchexam::Array& predictions) {
  try {
    task.score(predictions.get());
  } catch (const torchexam::PluginError& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_SUITE("real_world_images") {
  TEST_CASE("real_world_images describes its task and checks its options") {
    auto lib = open_plugin();
    CHECK(lib->name() == "real_world_images");
    auto task = lib->create({{"data_dir", "/nonexistent"}});
    const auto& info = task.info();
    CHECK(std::string(info.name) == "real_world_images");
    CHECK(std::string(info.metric_name) == "accuracy");
    CHECK(info.higher_is_better == 1);
    CHECK(torchexam::spec_string(info.input) == "[N, 4, 128, 128] uint8");
    CHECK(torchexam::spec_string(info.output) == "[N, 2] float32");
    CHECK(torchexam::spec_string(info.target) == "[N] int64");

    try {
      lib->create({{"limt", "10"}});
      FAIL("an unknown option was accepted");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("unknown plugin option 'limt'") != std::string::npos);
    }
    try {
      lib->create({{"limit", "ten"}});
      FAIL("a bad limit was accepted");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("limit='ten' is not a whole number") != std::string::npos);
    }
    try {
      task.test_inputs();
      FAIL("a missing data set was read");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("/nonexistent/animals: folder not found") != std::string::npos);
      CHECK(std::string(e.what()).find("torchexam data") != std::string::npos);
    }
  }

  TEST_CASE("the split takes colour PNGs only, is stratified by hash, and hands out no test label") {
    const auto dir = temp_dir("stamps");
    const Synthetic data(dir);
    auto lib = open_plugin();
    auto task = lib->create({{"data_dir", dir.string()}});
    auto [x, y] = task.train_split();
    torchexam::Array t = task.test_inputs();

    const auto train = data.part(false), test = data.part(true);
    REQUIRE(train.size() + test.size() == 22);  // no mirror, grey, .txt, .ogg or .svg file
    REQUIRE(test.size() == 3 + 2 + 1 + 1);      // round(30%) of 10, 5, 4 and 3
    REQUIRE(x.shape() == std::vector<int64_t>{static_cast<int64_t>(train.size()), 4, kSide, kSide});
    REQUIRE(y.shape() == std::vector<int64_t>{static_cast<int64_t>(train.size())});
    REQUIRE(t.shape() == std::vector<int64_t>{static_cast<int64_t>(test.size()), 4, kSide, kSide});
    CHECK(x.get().dtype == TORCHEXAM_DTYPE_UINT8);
    CHECK(y.get().dtype == TORCHEXAM_DTYPE_INT64);
    CHECK(t.get().dtype == TORCHEXAM_DTYPE_UINT8);

    // The documented rule picks the same samples in the same order, and each
    // training target is that image's own label (red channel): the targets
    // are the training labels, never the test ones.
    std::vector<uint8_t> want_train, want_test;
    for (const auto& s : train) want_train.push_back(s.id);
    for (const auto& s : test) want_test.push_back(s.id);
    CHECK(ids_of(x) == want_train);
    CHECK(ids_of(t) == want_test);
    const auto* targets = static_cast<const int64_t*>(y.get().data);
    for (size_t i = 0; i < train.size(); ++i) {
      CHECK(targets[i] == train[i].label);
      CHECK(canvas(x, static_cast<int64_t>(i))[0] == (train[i].label ? 255 : 0));
    }

    // Perfect, inverted and constant predictions.
    std::vector<int64_t> truth;
    for (const auto& s : test) truth.push_back(s.label);
    std::vector<int64_t> inverted, zeros(truth.size(), 0);
    for (int64_t c : truth) inverted.push_back(1 - c);
    CHECK(task.score(logits(truth).get()) == 1.0);
    CHECK(task.score(logits(inverted).get()) == 0.0);
    CHECK(task.score(logits(zeros).get()) == doctest::Approx(4.0 / 7.0));  // 3 animals of 7
    // The diagnostics of "never an animal": every animal in the wrong column.
    const auto d = boost::json::value_to<torchexam::TaskDiagnostics>(
        boost::json::parse(task.score_with_diagnostics(logits(zeros).get()).diagnostics_json));
    REQUIRE(d.classification);
    CHECK(d.classification->classes == std::vector<std::string>{"not an animal", "animal"});
    CHECK(d.classification->confusion == std::vector<std::vector<int64_t>>{{4, 0}, {3, 0}});
    CHECK(d.classification->per_class[1].recall == 0.0);
    CHECK(d.classification->per_class[0].precision == doctest::Approx(4.0 / 7.0));

    // A NaN row counts as "not an animal".
    std::vector<float> nan_rows(truth.size() * 2, std::numeric_limits<float>::quiet_NaN());
    torchexam::Array nan(
        torchexam::Array::from_vector(nan_rows, TORCHEXAM_DTYPE_FLOAT32, {static_cast<int64_t>(truth.size()), 2}));
    CHECK(task.score(nan.get()) == doctest::Approx(4.0 / 7.0));

    // Wrong shapes and dtypes are refused with what was expected.
    torchexam::Array three(torchexam::Array::from_vector(std::vector<float>(21), TORCHEXAM_DTYPE_FLOAT32, {7, 3}));
    const std::string shape_msg = score_error(task, three);
    CHECK(shape_msg.find("predictions must be [7, 2] float32 logits, got [7, 3] float32") != std::string::npos);
    torchexam::Array ints(torchexam::Array::from_vector(std::vector<int64_t>(7), TORCHEXAM_DTYPE_INT64, {7}));
    CHECK(score_error(task, ints).find("got [7] int64") != std::string::npos);

    auto limited = lib->create({{"data_dir", dir.string()}, {"limit", "4"}});
    CHECK(limited.train_split().first.shape() == std::vector<int64_t>{4, 4, kSide, kSide});
    CHECK(ids_of(limited.test_inputs()) == std::vector<uint8_t>(want_test.begin(), want_test.begin() + 4));
    CHECK(limited.score(logits(std::vector<int64_t>(truth.begin(), truth.begin() + 4)).get()) == 1.0);
    fs::remove_all(dir);
  }

  TEST_CASE("a large image is shrunk to fit, aspect kept, on a transparent canvas") {
    const auto dir = temp_dir("stamps-large");
    const Synthetic data(dir);
    // 300 x 150: the left 160 columns opaque (200, 100, 50), the right ones
    // transparent over white, which must not bleed into the colours. Shrunk
    // by 300 / 128 = 2.34375: 68 opaque columns, then one a quarter covered.
    std::vector<uint8_t> px;
    for (int yy = 0; yy < 150; ++yy)
      for (int xx = 0; xx < 300; ++xx)
        px.insert(px.end(), xx < 160 ? std::initializer_list<uint8_t>{200, 100, 50, 255}
                                     : std::initializer_list<uint8_t>{255, 255, 255, 0});
    write_file(dir / "animals/large.png", png_bytes(300, 150, kPngRgba, px));
    auto task = open_plugin()->create({{"data_dir", dir.string()}});
    auto [x, y] = task.train_split();
    torchexam::Array t = task.test_inputs();
    const uint8_t* big = nullptr;
    for (const torchexam::Array* a : {&x, &t})
      for (int64_t i = 0; i < a->get().shape[0]; ++i)
        if (canvas(*a, i)[0] == 200) big = canvas(*a, i);
    REQUIRE(big != nullptr);
    int64_t opaque = 0, partial = 0, max_x = -1, max_y = -1;
    bool clean = true;
    for (int64_t yy = 0; yy < kSide; ++yy) {
      for (int64_t xx = 0; xx < kSide; ++xx) {
        const int64_t p = yy * kSide + xx;
        const uint8_t r = big[p], g = big[kPlane + p], b = big[2 * kPlane + p], a = big[3 * kPlane + p];
        if (a == 0) {
          clean = clean && r == 0 && g == 0 && b == 0;
          continue;
        }
        clean = clean && r == 200 && g == 100 && b == 50;  // alpha-weighted: no white fringe
        opaque += a == 255;
        partial += a < 255;
        max_x = std::max(max_x, xx);
        max_y = std::max(max_y, yy);
      }
    }
    CHECK(clean);
    CHECK(max_y == 63);  // 150 rows * 128 / 300 = 64
    CHECK(max_x == 68);
    CHECK(opaque == 68 * 64);
    CHECK(partial == 64);
    fs::remove_all(dir);
  }

  TEST_CASE("an unreadable PNG is reported with its path") {
    const auto dir = temp_dir("stamps-broken");
    const Synthetic data(dir);
    write_file(dir / "plants/broken.png", "not a PNG at all");
    auto task = open_plugin()->create({{"data_dir", dir.string()}});
    try {
      task.train_split();
      FAIL("a broken PNG was read");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find((dir / "plants/broken.png").string() + ": cannot read this PNG") !=
            std::string::npos);
    }
    fs::remove_all(dir);
  }

  TEST_CASE("the real stamps split 197/84, the same every time, without overlap") {
    const fs::path dir = real_data_dir();
    if (!fs::is_directory(dir / "animals")) {
      FAIL("the tuxpaint-stamps data set is not installed in "
              << dir.string() << " (torchexam data environments/practice)");
      return;
    }
    auto lib = open_plugin();
    auto a = lib->create({{"data_dir", dir.string()}});
    auto b = lib->create({{"data_dir", dir.string()}});
    auto [x, y] = a.train_split();
    auto [x2, y2] = b.train_split();
    torchexam::Array t = a.test_inputs(), t2 = b.test_inputs();
    REQUIRE(x.shape() == std::vector<int64_t>{197, 4, kSide, kSide});
    REQUIRE(y.shape() == std::vector<int64_t>{197});
    REQUIRE(t.shape() == std::vector<int64_t>{84, 4, kSide, kSide});
    auto bytes = [](const torchexam::Array& arr) {
      const auto* p = static_cast<const uint8_t*>(arr.get().data);
      return std::vector<uint8_t>(p, p + arr.numel() * static_cast<int64_t>(torchexam::dtype_size(arr.get().dtype)));
    };
    CHECK(bytes(x) == bytes(x2));
    CHECK(bytes(y) == bytes(y2));
    CHECK(bytes(t) == bytes(t2));

    const auto* targets = static_cast<const int64_t*>(y.get().data);
    CHECK(std::count(targets, targets + 197, 1) == 100);
    CHECK(std::count(targets, targets + 197, 0) == 97);

    // No image is in both parts (the 281 stamps are distinct pictures).
    auto images = [](const torchexam::Array& arr) {
      std::set<std::vector<uint8_t>> out;
      for (int64_t i = 0; i < arr.get().shape[0]; ++i) out.emplace(canvas(arr, i), canvas(arr, i) + kImage);
      return out;
    };
    const auto train_images = images(x), test_images = images(t);
    CHECK(train_images.size() == 197);
    CHECK(test_images.size() == 84);
    for (const auto& img : test_images) CHECK(train_images.count(img) == 0);

    // Every canvas is transparent outside its image: RGB 0 where alpha is 0.
    bool clean = true;
    for (const torchexam::Array* arr : {&x, &t})
      for (int64_t i = 0; i < arr->get().shape[0]; ++i)
        for (int64_t p = 0; p < kPlane; ++p)
          if (canvas(*arr, i)[3 * kPlane + p] == 0)
            clean = clean && !canvas(*arr, i)[p] && !canvas(*arr, i)[kPlane + p] && !canvas(*arr, i)[2 * kPlane + p];
    CHECK(clean);

    // The constant baselines of task.yaml: 43 animals and 41 others hidden.
    CHECK(a.score(logits(std::vector<int64_t>(84, 1)).get()) == doctest::Approx(43.0 / 84.0));
    CHECK(a.score(logits(std::vector<int64_t>(84, 0)).get()) == doctest::Approx(41.0 / 84.0));

    auto limited = lib->create({{"data_dir", dir.string()}, {"limit", "10"}});
    CHECK(limited.train_split().first.shape() == std::vector<int64_t>{10, 4, kSide, kSide});
    CHECK(limited.test_inputs().shape() == std::vector<int64_t>{10, 4, kSide, kSide});
  }
}
