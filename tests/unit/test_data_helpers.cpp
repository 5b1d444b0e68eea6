// The student data helpers of <torchexam/data/*.hpp>: behaviour on small,
// hand-made tensors. Links LibTorch (its own executable).
//
// <torch/torch.h> comes before doctest: c10's logging defines CHECK, CHECK_EQ
// and kin, and doctest's definitions must be the ones left standing (the CMake
// target's precompiled <torch/torch.h> is included first as well).
#include <torch/torch.h>

#include <doctest/doctest.h>

#include <torchexam/data/image.hpp>
#include <torchexam/data/scaler.hpp>
#include <torchexam/data/series.hpp>
#include <torchexam/data/split.hpp>
#include <torchexam/data/text.hpp>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

namespace td = torchexam::data;

namespace {

using Strings = std::vector<std::string>;

// Saves `from` and loads it into `to` the way the runner does (parameters and
// buffers through a serialize archive).
void save_and_load(torch::nn::Module& from, torch::nn::Module& to) {
  torch::serialize::OutputArchive out;
  from.save(out);
  std::stringstream bytes;
  out.save_to(bytes);
  torch::serialize::InputArchive in;
  in.load_from(bytes);
  to.load(in);
}

struct VocabModule : torch::nn::Module {
  VocabModule() { vocab = register_buffer("vocab", torch::empty({0}, torch::kUInt8)); }
  torch::Tensor vocab;
};

struct ScalerModule : torch::nn::Module {
  explicit ScalerModule(int64_t features) : scaler(features) {
    register_buffer("x_mean", scaler.mean());
    register_buffer("x_std", scaler.stddev());
  }
  td::StandardScaler scaler;
};

std::vector<int64_t> row(const torch::Tensor& t) {
  auto c = t.to(torch::kLong).contiguous();
  return {c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel()};
}

torch::Tensor text_rows(const Strings& texts, int64_t length) {
  auto rows = torch::zeros({static_cast<int64_t>(texts.size()), length}, torch::kUInt8);
  for (size_t i = 0; i < texts.size(); ++i)
    for (size_t j = 0; j < texts[i].size() && static_cast<int64_t>(j) < length; ++j)
      rows[static_cast<int64_t>(i)][static_cast<int64_t>(j)] = static_cast<uint8_t>(texts[i][j]);
  return rows;
}

// The dtype's name ("Float", "Long", ...): readable in a failed CHECK.
std::string dtype(const torch::Tensor& t) { return c10::toString(t.scalar_type()); }

torch::Tensor sorted(const torch::Tensor& t) { return std::get<0>(t.sort()); }

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

}  // namespace

TEST_SUITE("data_helpers") {
  // ---- text.hpp ---------------------------------------------------------------

  TEST_CASE("tokenize lower-cases ASCII and splits on every non-alphanumeric byte") {
    CHECK(td::tokenize("Don't e-mail ME@x.org, caf\xc3\xa9 42!") ==
          Strings{"don", "t", "e", "mail", "me", "x", "org", "caf", "42"});
    CHECK(td::tokenize("Free MONEY", /*lower=*/false) == Strings{"Free", "MONEY"});
    CHECK(td::tokenize("  \t\n ").empty());
    CHECK(td::tokenize("free money now", true, 2) == Strings{"free", "money", "now", "free money", "money now"});
  }

  TEST_CASE("the vocabulary is padding, OOV, then tokens by count with ties in alphabetical order") {
    td::TextVectorizer v(td::TextVectorizerOptions().output_length(4));
    v.adapt({"b a c", "A b", "a", "d c"});
    CHECK(v.vocabulary() == Strings{"", "[UNK]", "a", "b", "c", "d"});
    CHECK(v.index_of("c") == 4);
    CHECK(v.index_of("zebra") == td::TextVectorizer::kOovIndex);

    SUBCASE("max_tokens counts padding and OOV and keeps the most frequent") {
      td::TextVectorizer small(td::TextVectorizerOptions().max_tokens(4).output_length(4));
      small.adapt({"b a c", "A b", "a", "d c"});
      CHECK(small.vocabulary() == Strings{"", "[UNK]", "a", "b"});
      CHECK(row(small({"c a zzz B"})[0]) == std::vector<int64_t>{1, 2, 1, 3});
    }
    SUBCASE("adapting again replaces the vocabulary") {
      v.adapt({"x y y"});
      CHECK(v.vocabulary() == Strings{"", "[UNK]", "y", "x"});
    }
  }

  TEST_CASE("vectorized rows are truncated and padded with 0 to output_length") {
    td::TextVectorizer v(td::TextVectorizerOptions().output_length(3));
    v.adapt({"a b c d", "a b c", "a b", "a"});  // a=2, b=3, c=4, d=5
    const auto ids = v({"a b c d", "d", "", "nothing known"});
    CHECK(dtype(ids) == "Long");
    CHECK(ids.sizes() == torch::IntArrayRef{4, 3});
    CHECK(row(ids[0]) == std::vector<int64_t>{2, 3, 4});
    CHECK(row(ids[1]) == std::vector<int64_t>{5, 0, 0});
    CHECK(row(ids[2]) == std::vector<int64_t>{0, 0, 0});
    CHECK(row(ids[3]) == std::vector<int64_t>{1, 1, 0});
  }

  TEST_CASE("with ngrams 2 the bigrams follow the unigrams in vocabulary and rows") {
    td::TextVectorizer v(td::TextVectorizerOptions().ngrams(2).output_length(6));
    v.adapt({"to be", "to be"});
    CHECK(v.vocabulary() == Strings{"", "[UNK]", "be", "to", "to be"});
    CHECK(row(v({"to be or"})[0]) == std::vector<int64_t>{3, 2, 1, 4, 1, 0});
  }

  TEST_CASE("before adapt every token is OOV, so a forward() before train() works") {
    td::TextVectorizer v(td::TextVectorizerOptions().output_length(3));
    CHECK(v.vocabulary_size() == 2);
    CHECK(row(v({"any words"})[0]) == std::vector<int64_t>{1, 1, 0});
    auto empty = td::TextVectorizer::from_tensor(torch::empty({0}, torch::kUInt8), v.options());
    CHECK(empty.vocabulary_size() == 2);
  }

  TEST_CASE("the vocabulary round-trips through a uint8 tensor") {
    const auto opts = td::TextVectorizerOptions().max_tokens(100).output_length(5);
    td::TextVectorizer v(opts);
    v.adapt({"the cat sat on the mat", "The dog ate the cat"});
    const auto t = v.to_tensor();
    CHECK(dtype(t) == "Byte");
    CHECK(t.dim() == 1);
    const auto back = td::TextVectorizer::from_tensor(t, opts);
    CHECK(back.vocabulary() == v.vocabulary());
    CHECK(torch::equal(back({"the dog sat", "a cat"}), v({"the dog sat", "a cat"})));

    SUBCASE("a tensor that is not a vocabulary is refused") {
      CHECK_THROWS_AS(td::TextVectorizer::from_tensor(text_rows({"hello"}, 8)[0], opts), c10::Error);
      CHECK_THROWS_AS(td::TextVectorizer::from_tensor(t.to(torch::kInt32), opts), c10::Error);
      CHECK_THROWS_AS(td::TextVectorizer::from_tensor(t.slice(0, 0, t.numel() - 1), opts), c10::Error);
    }
    SUBCASE("more tokens than max_tokens allows is refused, naming the options") {
      try {
        td::TextVectorizer::from_tensor(t, td::TextVectorizerOptions().max_tokens(3));
        FAIL("no error");
      } catch (const c10::Error& e) {
        CHECK(std::string(e.what_without_backtrace()).find("max_tokens") != std::string::npos);
      }
    }
  }

  TEST_CASE("a vocabulary kept in a buffer survives save and load into a fresh module") {
    const auto opts = td::TextVectorizerOptions().max_tokens(50).output_length(4);
    VocabModule trained;
    td::TextVectorizer v(opts);
    v.adapt({"win money now", "meeting at noon", "money money"});
    trained.vocab.set_(v.to_tensor());
    CHECK(torch::equal(trained.named_buffers()["vocab"], v.to_tensor()));

    VocabModule fresh;  // empty buffer, as the evaluation process builds it
    save_and_load(trained, fresh);
    const auto loaded = td::TextVectorizer::from_tensor(fresh.vocab, opts);
    CHECK(loaded.vocabulary() == v.vocabulary());
    CHECK(torch::equal(loaded(text_rows({"money at noon"}, 32)), v({"money at noon"})));
  }

  TEST_CASE("zero-padded uint8 rows become strings up to their first 0") {
    auto rows = text_rows({"hi there", "", "full!"}, 5);
    CHECK(td::rows_to_strings(rows) == Strings{"hi th", "", "full!"});
    CHECK(td::row_to_string(text_rows({"ab"}, 6)[0]) == "ab");
    CHECK_THROWS_AS(td::rows_to_strings(rows.to(torch::kLong)), c10::Error);
    CHECK_THROWS_AS(td::rows_to_strings(rows[0]), c10::Error);
    CHECK_THROWS_AS(td::row_to_string(rows), c10::Error);
  }

  TEST_CASE("bad vectorizer options are refused") {
    CHECK_THROWS_AS(td::TextVectorizer(td::TextVectorizerOptions().max_tokens(1)), c10::Error);
    CHECK_THROWS_AS(td::TextVectorizer(td::TextVectorizerOptions().output_length(0)), c10::Error);
    CHECK_THROWS_AS(td::TextVectorizer(td::TextVectorizerOptions().ngrams(3)), c10::Error);
    CHECK_NOTHROW(td::TextVectorizer(td::TextVectorizerOptions().max_tokens(0)));
  }

  // ---- series.hpp -------------------------------------------------------------

  TEST_CASE("windows over a 1-d series: count, first and last window") {
    const auto s = torch::arange(10, torch::kFloat32);
    const auto w = td::make_windows(s, 3, 2);
    CHECK(w.x.sizes() == torch::IntArrayRef{6, 3, 1});
    CHECK(w.y.sizes() == torch::IntArrayRef{6, 2});
    CHECK(dtype(w.x) == "Float");
    CHECK(row(w.x[0].flatten()) == std::vector<int64_t>{0, 1, 2});
    CHECK(row(w.y[0]) == std::vector<int64_t>{3, 4});
    CHECK(row(w.x[5].flatten()) == std::vector<int64_t>{5, 6, 7});
    CHECK(row(w.y[5]) == std::vector<int64_t>{8, 9});  // the last step is the last target
  }

  TEST_CASE("shift strides the windows and drops a tail that does not fit") {
    const auto w = td::make_windows(torch::arange(10, torch::kFloat64), 3, 2, 2);
    CHECK(w.x.size(0) == 3);
    CHECK(row(w.x[2].flatten()) == std::vector<int64_t>{4, 5, 6});
    CHECK(row(w.y[2]) == std::vector<int64_t>{7, 8});
    CHECK(dtype(w.y) == "Double");
  }

  TEST_CASE("a multi-feature series keeps every feature in x and takes y from feature 0") {
    const auto s = torch::stack({torch::arange(6), torch::arange(100, 106)}, 1).to(torch::kFloat32);  // [6, 2]
    const auto w = td::make_windows(s, 2, 1);
    CHECK(w.x.sizes() == torch::IntArrayRef{4, 2, 2});
    CHECK(w.y.sizes() == torch::IntArrayRef{4, 1});
    CHECK(row(w.x[3].flatten()) == std::vector<int64_t>{3, 103, 4, 104});
    CHECK(row(w.y.flatten()) == std::vector<int64_t>{2, 3, 4, 5});
  }

  TEST_CASE("a series exactly window + horizon long gives one window; shorter is refused") {
    CHECK(td::make_windows(torch::arange(5.0), 3, 2).x.size(0) == 1);
    CHECK_THROWS_AS(td::make_windows(torch::arange(4.0), 3, 2), c10::Error);
    CHECK_THROWS_AS(td::make_windows(torch::arange(10.0), 0, 1), c10::Error);
    CHECK_THROWS_AS(td::make_windows(torch::arange(10.0), 3, 0), c10::Error);
    CHECK_THROWS_AS(td::make_windows(torch::arange(10.0), 3, 1, 0), c10::Error);
    CHECK_THROWS_AS(td::make_windows(torch::zeros({4, 4, 4}), 1, 1), c10::Error);
  }

  // ---- image.hpp --------------------------------------------------------------

  TEST_CASE("resize gives the requested size and keeps a constant image constant") {
    const auto b = torch::full({2, 3, 8, 8}, 0.25);
    const auto r = td::resize(b, 4, 6);
    CHECK(r.sizes() == torch::IntArrayRef{2, 3, 4, 6});
    CHECK(max_abs_diff(r, torch::full({2, 3, 4, 6}, 0.25)) < 1e-6);
    CHECK(td::resize(b[0], 16, 5, /*antialias=*/true).sizes() == torch::IntArrayRef{3, 16, 5});
    CHECK_THROWS_AS(td::resize(b.to(torch::kUInt8), 4, 4), c10::Error);
  }

  TEST_CASE("random_flip with p 1 mirrors exactly, with p 0 not at all, in between per image") {
    const auto b = torch::arange(2 * 2 * 3 * 4, torch::kFloat32).view({2, 2, 3, 4});
    CHECK(torch::equal(td::random_flip(b, 1.0), b.flip({3})));
    CHECK(torch::equal(td::random_flip(b, 1.0, /*horizontal=*/false), b.flip({2})));
    CHECK(torch::equal(td::random_flip(b, 0.0), b));

    torch::manual_seed(3);
    const auto many = torch::rand({64, 1, 4, 4});
    const auto out = td::random_flip(many, 0.5);
    int flipped = 0;
    for (int64_t i = 0; i < 64; ++i) {
      const bool same = torch::equal(out[i], many[i]), mirrored = torch::equal(out[i], many[i].flip({2}));
      CHECK(same != mirrored);
      flipped += mirrored;
    }
    CHECK(flipped > 10);
    CHECK(flipped < 54);
    CHECK_THROWS_AS(td::random_flip(b, 1.5), c10::Error);
  }

  TEST_CASE("rotation by at most 0 degrees is the identity") {
    const auto b = torch::rand({3, 2, 7, 11});
    CHECK(max_abs_diff(td::random_rotation(b, 0), b) < 1e-5);
  }

  TEST_CASE("rotating a round blob on a non-square image leaves it round and in place") {
    // A Gaussian blob at the centre, isotropic in pixels: any rotation about
    // the centre maps it onto itself, unless the aspect ratio shears it.
    const int64_t h = 33, w = 49;
    const auto ys = torch::arange(h, torch::kFloat32).view({h, 1}) - (h - 1) / 2.0;
    const auto xs = torch::arange(w, torch::kFloat32).view({1, w}) - (w - 1) / 2.0;
    const auto blob = torch::exp(-(xs * xs + ys * ys) / (2 * 4.0 * 4.0)).expand({8, 1, h, w}).contiguous();
    torch::manual_seed(11);
    const auto r = td::random_rotation(blob, 180);
    CHECK(max_abs_diff(r, blob) < 0.03);
  }

  TEST_CASE("random transforms are reproducible from torch::manual_seed") {
    const auto b = torch::rand({4, 3, 9, 9});
    auto all = [&] {
      return torch::cat({td::random_rotation(b, 30), td::random_shift(b, 0.2), td::random_scale(b, 0.8, 1.2),
                         td::random_brightness(b, 0.1), td::random_flip(b)});
    };
    torch::manual_seed(42);
    const auto first = all();
    torch::manual_seed(42);
    CHECK(torch::equal(all(), first));
    torch::manual_seed(43);
    CHECK_FALSE(torch::equal(all(), first));
  }

  TEST_CASE("random_shift moves each image by at most max_fraction of its size, zero-filling") {
    const int64_t n = 16, size = 21;
    auto dot = torch::zeros({n, 1, size, size});
    dot.select(2, 10).select(2, 10).fill_(1);  // one bright pixel at the centre of each image
    torch::manual_seed(5);
    const auto out = td::random_shift(dot, 0.2);
    const auto coords = torch::arange(size, torch::kFloat32);
    const auto mass = out.sum({1, 2, 3});
    const auto cx = (out.sum({1, 2}) * coords).sum(1) / mass, cy = (out.sum({1, 3}) * coords).sum(1) / mass;
    CHECK(max_abs_diff(mass, torch::ones({n})) < 1e-4);  // bilinear: the dot's weight is kept
    CHECK((cx - 10).abs().max().item<double>() <= 0.2 * size + 1e-4);
    CHECK((cy - 10).abs().max().item<double>() <= 0.2 * size + 1e-4);
    CHECK((cx - 10).abs().max().item<double>() > 0.5);  // it did move
    CHECK(cx.std().item<double>() > 0.1);               // each image by its own amount
    CHECK(max_abs_diff(td::random_shift(dot, 0), dot) < 1e-5);
    // A shifted constant image gains a zero border on some side.
    CHECK(td::random_shift(torch::ones({4, 1, size, size}), 0.3).min().item<double>() < 0.5);
  }

  TEST_CASE("random_scale zooms about the centre: factor 0.5 shrinks into a zero border") {
    const auto out = td::random_scale(torch::ones({1, 1, 8, 8}), 0.5, 0.5);
    auto expected = torch::zeros({1, 1, 8, 8});
    expected.slice(2, 2, 6).slice(3, 2, 6).fill_(1);
    CHECK(max_abs_diff(out, expected) < 1e-5);
    const auto b = torch::rand({2, 3, 6, 10});
    CHECK(max_abs_diff(td::random_scale(b, 1, 1), b) < 1e-5);
    CHECK_THROWS_AS(td::random_scale(b, 0, 1), c10::Error);
    CHECK_THROWS_AS(td::random_scale(b, 1.2, 1.1), c10::Error);
  }

  TEST_CASE("random_brightness adds one bounded value per image") {
    torch::manual_seed(9);
    const auto b = torch::rand({6, 3, 5, 5});
    const auto delta = td::random_brightness(b, 0.1) - b;
    const auto lo = delta.amin({1, 2, 3}), hi = delta.amax({1, 2, 3});
    CHECK(max_abs_diff(lo, hi) < 1e-6);
    CHECK(delta.abs().max().item<double>() <= 0.1 + 1e-6);
    CHECK(lo.std().item<double>() > 0);
    CHECK_THROWS_AS(td::random_brightness(b, -1), c10::Error);
  }

  TEST_CASE("transforms refuse what is not a floating-point [N, C, H, W] batch") {
    CHECK_THROWS_AS(td::random_rotation(torch::rand({3, 8, 8}), 10), c10::Error);
    CHECK_THROWS_AS(td::random_shift(torch::zeros({1, 1, 8, 8}, torch::kUInt8), 0.1), c10::Error);
    CHECK_THROWS_AS(td::random_rotation(torch::rand({1, 1, 8, 8}), 200), c10::Error);
  }

  TEST_CASE("crop_to_alpha cuts the box of pixels with alpha > 0 and scales bytes to [0, 1]") {
    auto canvas = torch::zeros({4, 10, 12}, torch::kUInt8);
    canvas[0][2][3] = 255;
    canvas[2][2][3] = 51;
    canvas[3][2][3] = 255;
    canvas[3][4][7] = 10;
    canvas[1][9][11] = 200;  // colour under alpha 0 does not count
    const auto crop = td::crop_to_alpha(canvas);
    CHECK(dtype(crop) == "Float");
    CHECK(crop.sizes() == torch::IntArrayRef{4, 3, 5});
    CHECK(crop[0][0][0].item<double>() == doctest::Approx(1.0));
    CHECK(crop[2][0][0].item<double>() == doctest::Approx(0.2));
    CHECK(crop[3][2][4].item<double>() == doctest::Approx(10.0 / 255));
    CHECK(crop[3][1][1].item<double>() == 0);

    CHECK_THROWS_AS(td::crop_to_alpha(torch::zeros({4, 5, 5}, torch::kUInt8)), c10::Error);
    CHECK_THROWS_AS(td::crop_to_alpha(torch::zeros({3, 5, 5}, torch::kUInt8)), c10::Error);
    CHECK_THROWS_AS(td::crop_to_alpha(torch::ones({4, 5, 5})), c10::Error);
  }

  // ---- scaler.hpp -------------------------------------------------------------

  TEST_CASE("StandardScaler learns mean and population std, and inverse_transform undoes transform") {
    const auto x = torch::tensor({1.0f, 10.0f, -2.0f, 3.0f, 10.0f, 0.0f, 5.0f, 10.0f, 8.0f}).view({3, 3});
    td::StandardScaler s(3);
    const auto z = s.fit_transform(x);
    CHECK(torch::allclose(s.mean(), torch::tensor({3.0f, 10.0f, 2.0f})));
    CHECK(s.stddev()[0].item<double>() == doctest::Approx(std::sqrt(8.0 / 3)));
    CHECK(dtype(s.stddev()) == "Float");
    CHECK(torch::allclose(z.mean(0), torch::zeros({3}), 1e-5, 1e-6));
    CHECK(torch::allclose(s.inverse_transform(z), x, 1e-5, 1e-5));
    // works on [..., F] too, e.g. windows [N, T, F]
    CHECK(torch::allclose(s.transform(x.unsqueeze(0)).squeeze(0), z));
  }

  TEST_CASE("a constant feature gets std 1: centred, not blown up") {
    const auto x = torch::tensor({0.1, 7.3, 0.2, 7.3, 0.3, 7.3}, torch::kFloat64).view({3, 2});
    td::StandardScaler s;
    const auto z = s.fit_transform(x);
    CHECK(s.num_features() == 2);
    CHECK(s.stddev()[1].item<double>() == 1.0);
    // The state is float32 (the model's dtype), so 7.3 comes back to within float precision.
    CHECK(max_abs_diff(z.select(1, 1), torch::zeros({3}, torch::kFloat64)) < 1e-6);
    CHECK(dtype(z) == "Double");
  }

  TEST_CASE("an unfitted scaler is the identity; a wrong width is refused") {
    const auto x = torch::rand({4, 3});
    CHECK(torch::equal(td::StandardScaler().transform(x), x));
    CHECK(torch::allclose(td::StandardScaler(3).transform(x), x));
    td::StandardScaler s(3);
    CHECK_THROWS_AS(s.fit(torch::rand({4, 2})), c10::Error);
    CHECK_THROWS_AS(s.fit(torch::rand({0, 3})), c10::Error);
    CHECK_THROWS_AS(s.fit(torch::ones({4, 3}, torch::kLong)), c10::Error);
    s.fit(x);
    CHECK_THROWS_AS(s.transform(torch::rand({4, 2})), c10::Error);
    CHECK_THROWS_AS(s.transform(torch::rand({3})), c10::Error);
  }

  TEST_CASE("a 1-d target fits as one feature") {
    td::StandardScaler s;
    const auto y = torch::tensor({10.0f, 20.0f, 30.0f});
    const auto z = s.fit_transform(y);
    CHECK(s.num_features() == 1);
    CHECK(z.sizes() == torch::IntArrayRef{3});
    CHECK(torch::allclose(s.inverse_transform(z), y));
  }

  TEST_CASE("scaler state registered as buffers follows fit, save/load and module->to") {
    const auto x = torch::randn({20, 3}) * 4 + 2;
    for (int64_t features : {3, 0}) {
      CAPTURE(features);
      ScalerModule trained(features);
      trained.scaler.fit(x);
      CHECK(torch::equal(trained.named_buffers()["x_mean"], trained.scaler.mean()));
      CHECK(trained.named_buffers()["x_mean"].numel() == 3);

      ScalerModule fresh(features);
      save_and_load(trained, fresh);
      CHECK(torch::equal(fresh.scaler.mean(), trained.scaler.mean()));
      CHECK(torch::equal(fresh.scaler.stddev(), trained.scaler.stddev()));
      CHECK(torch::allclose(fresh.scaler.transform(x), trained.scaler.transform(x)));

      fresh.to(torch::kFloat64);
      CHECK(dtype(fresh.scaler.mean()) == "Double");
    }
  }

  // ---- split.hpp --------------------------------------------------------------

  TEST_CASE("stratified_split splits every class in proportion, disjoint and complete") {
    // 100 of class 0, 50 of class 1, 3 of class 2, 1 of class 3, interleaved.
    const auto y = torch::cat({torch::full({100}, 0, torch::kLong), torch::full({50}, 1, torch::kLong),
                               torch::full({3}, 2, torch::kLong), torch::full({1}, 3, torch::kLong)})
                       .index_select(0, torch::randperm(154));
    torch::manual_seed(1);
    const auto [train, val] = td::stratified_split(y, 0.2);
    CHECK(dtype(train) == "Long");
    CHECK(train.numel() + val.numel() == 154);
    CHECK(torch::equal(sorted(torch::cat({train, val})), torch::arange(154)));
    CHECK(torch::equal(sorted(val), val));
    const auto val_counts = torch::bincount(y.index_select(0, val), {}, 4);
    CHECK(row(val_counts) == std::vector<int64_t>{20, 10, 1, 0});  // 3 * 0.2 rounds to 1; 1 member stays in train
  }

  TEST_CASE("every class of two or more members gets a validation sample, and keeps a training one") {
    const auto y = torch::tensor({5, 5, 7, 7, 7, 7, 7, 7, 7, 7}, torch::kInt32);
    auto s = td::stratified_split(y, 0.01);
    CHECK(row(sorted(y.index_select(0, s.val))) == std::vector<int64_t>{5, 7});
    s = td::stratified_split(y, 0.99);
    CHECK(row(sorted(y.index_select(0, s.train))) == std::vector<int64_t>{5, 7});
  }

  TEST_CASE("stratified_split is deterministic given torch::manual_seed") {
    const auto y = torch::arange(200) % 3;
    torch::manual_seed(17);
    const auto a = td::stratified_split(y, 0.25);
    torch::manual_seed(17);
    const auto b = td::stratified_split(y, 0.25);
    CHECK(torch::equal(a.val, b.val));
    CHECK(torch::equal(a.train, b.train));
    torch::manual_seed(18);
    CHECK_FALSE(torch::equal(td::stratified_split(y, 0.25).val, a.val));
  }

  TEST_CASE("stratified_split refuses float labels and fractions outside (0, 1)") {
    CHECK_THROWS_AS(td::stratified_split(torch::zeros({4}), 0.5), c10::Error);
    CHECK_THROWS_AS(td::stratified_split(torch::zeros({4}, torch::kLong), 0), c10::Error);
    CHECK_THROWS_AS(td::stratified_split(torch::zeros({4}, torch::kLong), 1), c10::Error);
    CHECK_THROWS_AS(td::stratified_split(torch::zeros({2, 2}, torch::kLong), 0.5), c10::Error);
    CHECK(td::stratified_split(torch::empty({0}, torch::kLong), 0.5).train.numel() == 0);
  }
}
