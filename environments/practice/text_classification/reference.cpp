// Reference solution for text_classification: a bag of hashed words (the
// hashing trick, as in fastText). forward() splits each message into
// lower-case tokens, hashes every token into one of kBuckets rows of an
// EmbeddingBag that averages them, and a linear layer reads the average.
// Hashing needs no vocabulary, so nothing but the weights has to survive into
// the evaluation process. Never copied into a candidate's workspace.
#include <torchexam/solution.h>

#include <cstdint>
#include <vector>

namespace nn = torch::nn;

constexpr int64_t kBuckets = int64_t{1} << 15;  // token hash -> row of the bag
constexpr int64_t kEmbedding = 32;
constexpr int64_t kClasses = 2;  // 0 ham, 1 spam
constexpr uint64_t kFnvOffset = 14695981039346656037ull;
constexpr uint64_t kFnvPrime = 1099511628211ull;

uint8_t lower(uint8_t c) { return c >= 'A' && c <= 'Z' ? static_cast<uint8_t>(c - 'A' + 'a') : c; }

// A byte of a word: ASCII letters and digits, and every byte of a non-ASCII
// UTF-8 character, so accented words stay whole.
bool word_byte(uint8_t c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80; }

// Appends the bucket of each token of one row: words (runs of word bytes,
// lower-cased) and single punctuation marks such as '$', '!' and '<'. The row
// ends at its first zero byte or after `length` bytes.
void row_buckets(const uint8_t* row, int64_t length, std::vector<int64_t>& out) {
  int64_t i = 0;
  while (i < length && row[i] != 0) {
    uint64_t h = kFnvOffset;  // FNV-1a of the token
    if (word_byte(lower(row[i]))) {
      for (; i < length && row[i] != 0 && word_byte(lower(row[i])); ++i) h = (h ^ lower(row[i])) * kFnvPrime;
    } else {
      const uint8_t c = row[i++];
      if (c <= ' ') continue;  // white space only separates
      h = (h ^ c) * kFnvPrime;
    }
    out.push_back(static_cast<int64_t>(h % static_cast<uint64_t>(kBuckets)));
  }
}

struct NetImpl : nn::Module {
  NetImpl()
      : bag(register_module("bag", nn::EmbeddingBag(nn::EmbeddingBagOptions(kBuckets, kEmbedding).mode(torch::kMean)))),
        drop(register_module("drop", nn::Dropout(0.2))),
        out(register_module("out", nn::Linear(kEmbedding, kClasses))) {}

  // x: uint8 [N, L], one message per row, zero-padded -> logits [N, 2].
  torch::Tensor forward(torch::Tensor x) {
    x = x.contiguous();
    const int64_t n = x.size(0), length = x.size(1);
    const auto* bytes = x.data_ptr<uint8_t>();
    std::vector<int64_t> buckets, offsets;  // all rows' tokens, and where each row starts
    offsets.reserve(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) {
      offsets.push_back(static_cast<int64_t>(buckets.size()));
      row_buckets(bytes + i * length, length, buckets);
    }
    auto mean = bag(torch::tensor(buckets, torch::kLong), torch::tensor(offsets, torch::kLong));
    return out(drop(mean));
  }

  nn::EmbeddingBag bag;
  nn::Dropout drop;
  nn::Linear out;
};
TORCH_MODULE(Net);

void train(Net& model, torchexam::Context& ctx) {
  constexpr int kEpochs = 6;
  constexpr int64_t kBatch = 64;
  torch::optim::Adam opt(model->parameters(), torch::optim::AdamOptions(2e-2));
  for (int epoch : ctx.epochs(kEpochs)) {
    (void)epoch;
    model->train();
    int64_t correct = 0, seen = 0;
    for (auto& batch : ctx.batches(kBatch)) {
      opt.zero_grad();
      auto logits = model(batch.x);
      auto loss = torch::nn::functional::cross_entropy(logits, batch.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
      correct += logits.argmax(1).eq(batch.y).sum().item<int64_t>();
      seen += batch.y.size(0);
    }
    ctx.metric("train_accuracy", static_cast<double>(correct) / static_cast<double>(seen));
  }
}

TORCHEXAM_SOLUTION(Net, train)
