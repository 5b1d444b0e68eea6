// torchexam/data/text.hpp — text to token ids: the LibTorch counterpart of
// Keras' TextVectorization layer, plus the byte-row helpers of the text task
// (which hands candidates each text as a zero-padded uint8 row).
//
// Tokenization (byte-wise, the same on every machine, no locale):
//   - with lower() on, ASCII 'A'..'Z' become 'a'..'z'; other bytes stay;
//   - a token is a maximal run of ASCII letters and digits [A-Za-z0-9]; every
//     other byte separates tokens: blanks, punctuation, control bytes and all
//     bytes >= 0x80 (so a UTF-8 letter splits a word). Unlike Keras' default
//     (strip punctuation, split on whitespace), "e-mail" gives "e", "mail";
//   - with ngrams(2), a text's tokens are all its unigrams followed by all its
//     bigrams, each bigram being two adjacent unigrams joined by one space
//     ("free money now" -> free, money, now, "free money", "money now"), as
//     Keras' ngrams=2 does.
//
// Vocabulary (adapt): index 0 is padding (""), 1 is out-of-vocabulary
// ("[UNK]"), then the tokens of the texts by descending count (occurrences
// over all texts), ties in ascending byte order, so the result depends only on
// the texts. At most max_tokens entries in all, 0 and 1 included (Keras'
// meaning); max_tokens 0 means no limit. adapt() again replaces the vocabulary.
//
// Vectorizing: operator()(texts) -> int64 [N, output_length] on the CPU, each
// row the ids of the text's tokens in order, truncated to output_length and
// padded with 0. A token not in the vocabulary is 1.
//
// Before adapt() (or from_tensor() of an empty tensor) the vocabulary is empty
// and every token is 1. That is deliberate: the runner calls forward() once,
// before train(), to check the output's shape, so forward() must work then.
//
// Checkpointing: the evaluation process builds a fresh model and loads only its
// parameters and buffers, so keep the vocabulary in a uint8 buffer. A load
// replaces the buffer's size and contents in place (Tensor::set_), so the
// fresh model may start with an empty one:
//
//     const auto kText = torchexam::data::TextVectorizerOptions()
//                            .max_tokens(10000).output_length(256);
//     struct NetImpl : torch::nn::Module {
//       NetImpl() {
//         vocab = register_buffer("vocab", torch::empty({0}, torch::kUInt8));
//         embed = register_module("embed", torch::nn::Embedding(10000, 32));
//         ...
//       }
//       void adapt(const std::vector<std::string>& texts) {  // from train()
//         torchexam::data::TextVectorizer v(kText);
//         v.adapt(texts);
//         vocab.set_(v.to_tensor());  // in place: the registered buffer changes
//         vectorizer = std::move(v);
//       }
//       torch::Tensor forward(torch::Tensor x) {  // x: uint8 [B, L] text rows
//         if (!vectorizer) vectorizer = torchexam::data::TextVectorizer::from_tensor(vocab, kText);
//         auto ids = (*vectorizer)(x).to(embed->weight.device());  // int64 [B, 256]
//         ...
//       }
//       torch::Tensor vocab;
//       std::optional<torchexam::data::TextVectorizer> vectorizer;  // cache
//       torch::nn::Embedding embed{nullptr};
//     };
//     // train(): model->adapt(torchexam::data::rows_to_strings(ctx.inputs()));
//
// The tensor holds the bytes "torchexam-vocabulary-v1\n" then every token from
// index 2 on, each followed by '\n' (tokens never contain '\n'). It does not
// hold the options: from_tensor() must be given the ones adapt() used.
//
// Errors: c10::Error (TORCH_CHECK) naming the function and what is wrong: bad
// options, a tensor of the wrong dtype or rank, a malformed vocabulary tensor.
// Threads: adapt() mutates; the const members may run concurrently on one
// object. A TextVectorizer is a plain value: copies are independent.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace torchexam::data {

struct TextVectorizerOptions {
  // Vocabulary size, padding (0) and OOV (1) included; 0 = no limit, else >= 2.
  TORCH_ARG(int64_t, max_tokens) = 20000;
  // Length of every output row (>= 1).
  TORCH_ARG(int64_t, output_length) = 200;
  // Lower-case ASCII letters before splitting.
  TORCH_ARG(bool, lower) = true;
  // 1: unigrams; 2: unigrams then bigrams.
  TORCH_ARG(int64_t, ngrams) = 1;
};

// Splits one text into tokens by the rules at the top of this file.
inline std::vector<std::string> tokenize(std::string_view text, bool lower = true, int64_t ngrams = 1) {
  TORCH_CHECK(ngrams == 1 || ngrams == 2, "tokenize: ngrams must be 1 or 2, got ", ngrams);
  auto is_word_byte = [](unsigned char c) {
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
  };
  std::vector<std::string> tokens;
  std::string current;
  for (char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_word_byte(c)) {
      current.push_back(lower && c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : ch);
    } else if (!current.empty()) {
      tokens.push_back(std::move(current));
      current.clear();
    }
  }
  if (!current.empty()) tokens.push_back(std::move(current));
  if (ngrams == 2) {
    const size_t unigrams = tokens.size();
    for (size_t i = 0; i + 1 < unigrams; ++i) tokens.push_back(tokens[i] + ' ' + tokens[i + 1]);
  }
  return tokens;
}

// The text of one zero-padded byte row: its bytes up to the first 0 (all of
// them if there is none). row: uint8 [L], any device.
inline std::string row_to_string(const torch::Tensor& row) {
  TORCH_CHECK(row.scalar_type() == torch::kUInt8, "row_to_string: expected a uint8 row, got ", row.dtype());
  TORCH_CHECK(row.dim() == 1, "row_to_string: expected a 1-d row [L], got shape ", row.sizes());
  const auto bytes = row.contiguous().cpu();
  const auto* p = reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>());
  const auto n = static_cast<size_t>(bytes.numel());
  const void* zero = n ? std::memchr(p, 0, n) : nullptr;
  return std::string(p, zero ? static_cast<size_t>(static_cast<const char*>(zero) - p) : n);
}

// row_to_string of every row of rows: uint8 [N, L].
inline std::vector<std::string> rows_to_strings(const torch::Tensor& rows) {
  TORCH_CHECK(rows.scalar_type() == torch::kUInt8, "rows_to_strings: expected uint8 rows, got ", rows.dtype());
  TORCH_CHECK(rows.dim() == 2, "rows_to_strings: expected rows [N, L], got shape ", rows.sizes());
  const auto bytes = rows.contiguous().cpu();
  std::vector<std::string> out;
  out.reserve(static_cast<size_t>(bytes.size(0)));
  for (int64_t i = 0; i < bytes.size(0); ++i) out.push_back(row_to_string(bytes[i]));
  return out;
}

class TextVectorizer {
 public:
  static constexpr std::string_view kOovToken = "[UNK]";
  static constexpr int64_t kPadIndex = 0;
  static constexpr int64_t kOovIndex = 1;
  static constexpr std::string_view kTensorMagic = "torchexam-vocabulary-v1\n";

  explicit TextVectorizer(TextVectorizerOptions options = {}) : options_(std::move(options)) {
    const auto& o = options_;
    TORCH_CHECK(o.max_tokens() == 0 || o.max_tokens() >= 2,
                "TextVectorizer: max_tokens counts padding and OOV, so it must be 0 (no limit) or >= 2, got ",
                o.max_tokens());
    TORCH_CHECK(o.output_length() >= 1, "TextVectorizer: output_length must be >= 1, got ", o.output_length());
    TORCH_CHECK(o.ngrams() == 1 || o.ngrams() == 2, "TextVectorizer: ngrams must be 1 or 2, got ", o.ngrams());
    set_tokens({});
  }

  // Builds the vocabulary from texts (see the top of this file).
  void adapt(const std::vector<std::string>& texts) {
    std::unordered_map<std::string, int64_t> counts;
    for (const auto& text : texts)
      for (auto& token : tokenize(text, options_.lower(), options_.ngrams())) ++counts[std::move(token)];
    std::vector<std::pair<std::string, int64_t>> ranked(std::make_move_iterator(counts.begin()),
                                                        std::make_move_iterator(counts.end()));
    std::sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) {
      return a.second != b.second ? a.second > b.second : a.first < b.first;
    });
    if (options_.max_tokens() > 0 && static_cast<int64_t>(ranked.size()) > options_.max_tokens() - 2)
      ranked.resize(static_cast<size_t>(options_.max_tokens() - 2));
    std::vector<std::string> tokens;
    tokens.reserve(ranked.size());
    for (auto& [token, count] : ranked) tokens.push_back(std::move(token));
    set_tokens(std::move(tokens));
  }

  // int64 [texts.size(), output_length]: token ids, truncated, 0-padded.
  torch::Tensor operator()(const std::vector<std::string>& texts) const {
    const int64_t length = options_.output_length();
    auto out = torch::zeros({static_cast<int64_t>(texts.size()), length}, torch::kLong);
    auto ids = out.accessor<int64_t, 2>();
    for (size_t i = 0; i < texts.size(); ++i) {
      const auto tokens = tokenize(texts[i], options_.lower(), options_.ngrams());
      const int64_t n = std::min<int64_t>(length, static_cast<int64_t>(tokens.size()));
      for (int64_t j = 0; j < n; ++j) ids[static_cast<int64_t>(i)][j] = index_of(tokens[static_cast<size_t>(j)]);
    }
    return out;
  }

  // The same for the text task's input: rows uint8 [N, L], zero-padded.
  torch::Tensor operator()(const torch::Tensor& rows) const { return (*this)(rows_to_strings(rows)); }

  // The id of one token (already tokenized: lower-cased if lower() is on);
  // kOovIndex when it is not in the vocabulary.
  int64_t index_of(const std::string& token) const {
    auto it = index_.find(token);
    return it == index_.end() ? kOovIndex : it->second;
  }

  // All entries by id: "", "[UNK]", then the learned tokens.
  const std::vector<std::string>& vocabulary() const { return vocabulary_; }
  int64_t vocabulary_size() const { return static_cast<int64_t>(vocabulary_.size()); }
  const TextVectorizerOptions& options() const { return options_; }

  // The vocabulary as uint8 [bytes] on the CPU, to store in a module buffer.
  torch::Tensor to_tensor() const {
    std::string bytes(kTensorMagic);
    for (size_t i = 2; i < vocabulary_.size(); ++i) {
      bytes += vocabulary_[i];
      bytes += '\n';
    }
    auto t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
    std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
    return t;
  }

  // The vectorizer whose to_tensor() gave `bytes` (uint8 [n], any device), with
  // `options` (those adapt() ran with). An empty tensor (a buffer that never
  // received a vocabulary) gives an empty vocabulary.
  static TextVectorizer from_tensor(const torch::Tensor& bytes, TextVectorizerOptions options = {}) {
    TORCH_CHECK(bytes.scalar_type() == torch::kUInt8,
                "TextVectorizer::from_tensor: expected the uint8 tensor of to_tensor(), got ", bytes.dtype());
    TORCH_CHECK(bytes.dim() == 1, "TextVectorizer::from_tensor: expected a 1-d tensor, got shape ", bytes.sizes());
    TextVectorizer v(std::move(options));
    if (bytes.numel() == 0) return v;
    const auto cpu = bytes.contiguous().cpu();
    const std::string_view all(reinterpret_cast<const char*>(cpu.data_ptr<uint8_t>()),
                               static_cast<size_t>(cpu.numel()));
    TORCH_CHECK(all.substr(0, kTensorMagic.size()) == kTensorMagic,
                "TextVectorizer::from_tensor: the tensor does not start with \"torchexam-vocabulary-v1\\n\": "
                "not a vocabulary written by to_tensor()");
    std::string_view rest = all.substr(kTensorMagic.size());
    TORCH_CHECK(rest.empty() || rest.back() == '\n',
                "TextVectorizer::from_tensor: the vocabulary tensor is truncated (its last token has no '\\n')");
    std::vector<std::string> tokens;
    while (!rest.empty()) {
      const size_t end = rest.find('\n');
      TORCH_CHECK(end > 0, "TextVectorizer::from_tensor: empty token at index ", tokens.size() + 2);
      tokens.emplace_back(rest.substr(0, end));
      rest.remove_prefix(end + 1);
    }
    const int64_t max_tokens = v.options_.max_tokens();
    TORCH_CHECK(max_tokens == 0 || static_cast<int64_t>(tokens.size()) + 2 <= max_tokens,
                "TextVectorizer::from_tensor: the tensor holds ", tokens.size() + 2,
                " entries (padding and OOV included) but max_tokens is ", max_tokens,
                ": pass the options adapt() ran with");
    v.set_tokens(std::move(tokens));
    return v;
  }

 private:
  void set_tokens(std::vector<std::string> tokens) {
    vocabulary_.assign({std::string(), std::string(kOovToken)});
    vocabulary_.reserve(tokens.size() + 2);
    index_.clear();
    index_.reserve(tokens.size());
    for (auto& token : tokens) {
      const auto id = static_cast<int64_t>(vocabulary_.size());
      TORCH_CHECK(index_.emplace(token, id).second, "TextVectorizer: token '", token, "' appears twice");
      vocabulary_.push_back(std::move(token));
    }
  }

  TextVectorizerOptions options_;
  std::vector<std::string> vocabulary_;
  std::unordered_map<std::string, int64_t> index_;
};

}  // namespace torchexam::data
