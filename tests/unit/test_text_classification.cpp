// The text_classification task plugin (SpamAssassin ham or spam): its
// contract, how it turns a raw mail into a row of text, its duplicate removal
// and split on the installed corpus, and its scoring — on small mail folders
// the tests write and on the real data set.
#include <doctest/doctest.h>

#include "grading/task_diagnostics.hpp"
#include "plugin_test_util.hpp"
#include <torchexam/plugin.hpp>

#include <boost/json.hpp>

#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <unordered_set>
#include <vector>

namespace {

namespace fs = std::filesystem;

constexpr int64_t kRowBytes = 2048;
constexpr const char* kHamFolders[] = {"easy-ham-1", "easy-ham-2", "hard-ham-1"};
constexpr const char* kSpamFolders[] = {"spam-1", "spam-2"};

std::shared_ptr<torchexam::PluginLibrary> open_plugin() { return torchexam::test::open_task_plugin("text_classification"); }

fs::path real_data_dir() { return torchexam::test::installed_data_dir("spam-assassin"); }

using torchexam::test::temp_dir;

void write_file(const fs::path& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

// The rows of a uint8 [N, L] array, each up to its first zero byte.
std::vector<std::string> rows_of(const torchexam::Array& a) {
  const int64_t n = a.get().shape[0], length = a.get().shape[1];
  const auto* bytes = static_cast<const char*>(a.get().data);
  std::vector<std::string> out;
  for (int64_t i = 0; i < n; ++i) {
    std::string row(bytes + i * length, static_cast<size_t>(length));
    out.push_back(row.substr(0, row.find('\0')));
  }
  return out;
}

// True when every byte after the row's first zero byte is zero too.
bool zero_padded(const torchexam::Array& a, int64_t i) {
  const int64_t length = a.get().shape[1];
  const auto* row = static_cast<const uint8_t*>(a.get().data) + i * length;
  int64_t k = 0;
  while (k < length && row[k] != 0) ++k;
  for (; k < length; ++k)
    if (row[k] != 0) return false;
  return true;
}

bool valid_utf8(const std::string& s) {
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 0;
    if (len == 0 || i + len > s.size()) return false;
    for (size_t k = 1; k < len; ++k)
      if ((static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    i += len;
  }
  return true;
}

const std::string* find_row(const std::vector<std::string>& rows, const std::string& prefix) {
  for (const auto& r : rows)
    if (r.rfind(prefix, 0) == 0) return &r;
  return nullptr;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

torchexam::Array logits(const std::vector<int64_t>& classes) {
  std::vector<float> v;
  for (int64_t c : classes) {
    v.push_back(c == 0 ? 1.f : 0.f);
    v.push_back(c == 1 ? 1.f : 0.f);
  }
  return torchexam::Array(
      torchexam::Array::from_vector(std::move(v), TORCHEXAM_DTYPE_FLOAT32, {static_cast<int64_t>(classes.size()), 2}));
}

std::string score_error(torchexam::Task& task, const torchexam::Array& predictions) {
  try {
    task.score(predictions.get());
  } catch (const torchexam::PluginError& e) {
    return e.what();
  }
  return "";
}

// Message i of a folder. Every body says "label: ham" or "label: spam" (after
// decoding), so a test can read the truth off the inputs, and names its
// folder, so no two folders share a body. Message 6 repeats message 0's body
// with other spacing and is dropped as a duplicate.
std::string synthetic_message(const std::string& folder, bool spam, int i) {
  const std::string label = spam ? "spam" : "ham";
  const std::string id = folder + " message " + std::to_string(i);
  const std::string head =
      "From someone@example.org  Mon Sep  2 12:00:00 2002\nReturn-Path: <someone@example.org>\n"
      "X-Spam-Status: " +
      std::string(spam ? "Yes" : "No") + ", hits=5.0\n";
  switch (i) {
    case 1:  // CRLF line ends, a folded Subject
      return "Return-Path: <a@b>\r\nSubject: " + id + "\r\n\tfolded\r\n\r\nlabel: " + label + "\r\nline two " + folder +
             "\r\n";
    case 2:  // MIME: quoted-printable text, base64 HTML, an image attachment
      return head + "Subject: " + id +
             "\nMIME-Version: 1.0\nContent-Type: multipart/alternative;\n\tboundary=\"XYZ\"\n\n"
             "This is a MIME preamble.\n--XYZ\nContent-Type: text/plain; charset=us-ascii\n"
             "Content-Transfer-Encoding: quoted-printable\n\nlabel: " +
             label + "\na=3Db soft=\n break " + folder +
             "\n--XYZ\nContent-Type: text/html\nContent-Transfer-Encoding: base64\n\n" +
             (spam ? "PHA+bGFiZWw6IHNwYW08L3A+" : "PHA+bGFiZWw6IGhhbTwvcD4=") +
             "\n--XYZ\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n\niVBORw0KGgoAAAANSUhEUg==\n"
             "--XYZ--\nan epilogue\n";
    case 3:  // RFC 2047 encoded words in the Subject
      return head + "Subject: =?iso-8859-1?Q?caf=E9_au?= =?utf-8?B?IGxhaXQ=?= " + id + "\n\nlabel: " + label + "\n" +
             folder + "\n";
    case 4:  // a Latin-1 pound sign and a NUL byte
      return head + "Subject: " + id + "\n\nlabel: " + label + "\nprice \xA3" + std::string("5\0 end ", 7) + folder +
             "\n";
    case 5: {  // longer than a row: the cut must not split a two-byte character
      std::string filler;
      for (int k = 0; k < 3000; ++k) filler += "\xC3\xA9";  // é
      return head + "Subject: " + id + "\n\nlabel: " + label + "\n" + folder + "x" + filler;
    }
    case 6:
      return head + "Subject: " + id + "\n\nlabel:   " + label + "\n\n  message " + folder + " 0 body\n";
    default:
      return head + "Subject: " + id + "\n\nlabel: " + label + "\nmessage " + folder + " " + std::to_string(i) +
             " body\n";
  }
}

constexpr int kPerFolder = 10;  // one of them (message 6) is a duplicate
constexpr int kKeptPerFolder = kPerFolder - 1;

// The five corpus folders with kPerFolder messages each, plus the .json
// twins the plugin must ignore.
fs::path write_synthetic_corpus() {
  const fs::path dir = temp_dir("spam-assassin");
  auto write_folder = [&](const char* folder, bool spam) {
    fs::create_directories(dir / folder);
    for (int i = 0; i < kPerFolder; ++i) {
      const std::string stem = "0000" + std::to_string(i) + ".0123456789abcdef0123456789abcdef";
      write_file(dir / folder / (stem + ".txt"), synthetic_message(folder, spam, i));
      write_file(dir / folder / (stem + ".json"), "{\"text\": \"label: spam label: ham\"}");
    }
  };
  for (const char* f : kHamFolders) write_folder(f, false);
  for (const char* f : kSpamFolders) write_folder(f, true);
  return dir;
}

}  // namespace

TEST_SUITE("text_classification") {
  TEST_CASE("text_classification describes its task and checks its options") {
    auto lib = open_plugin();
    CHECK(lib->name() == "text_classification");
    auto task = lib->create({{"data_dir", "/nonexistent"}});
    const auto& info = task.info();
    CHECK(std::string(info.metric_name) == "accuracy");
    CHECK(info.higher_is_better == 1);
    CHECK(torchexam::spec_string(info.input) == "[N, 2048] uint8");
    CHECK(torchexam::spec_string(info.output) == "[N, 2] float32");
    CHECK(torchexam::spec_string(info.target) == "[N] int64");

    try {
      lib->create({});
      FAIL("a task without data_dir was created");
    } catch (const torchexam::PluginError& e) {
      CHECK(contains(e.what(), "option data_dir is required"));
    }
    try {
      lib->create({{"data_dir", "/x"}, {"max_bytes", "10"}});
      FAIL("an unknown option was accepted");
    } catch (const torchexam::PluginError& e) {
      CHECK(contains(e.what(), "unknown plugin option 'max_bytes'"));
    }
    try {
      task.test_inputs();
      FAIL("a missing data folder was read");
    } catch (const torchexam::PluginError& e) {
      CHECK(contains(e.what(), "/nonexistent/easy-ham-1: folder not found"));
      CHECK(contains(e.what(), "torchexam data"));
    }
  }

  TEST_CASE("a raw mail becomes its Subject, a blank line and its decoded text parts") {
    const fs::path dir = write_synthetic_corpus();
    auto task = open_plugin()->create({{"data_dir", dir.string()}});
    auto [x, y] = task.train_split();
    torchexam::Array t = task.test_inputs();
    std::vector<std::string> rows = rows_of(x);
    for (const auto& r : rows_of(t)) rows.push_back(r);
    REQUIRE(rows.size() == 5 * kKeptPerFolder);

    for (size_t i = 0; i < rows.size(); ++i) {
      CAPTURE(rows[i]);
      CHECK(valid_utf8(rows[i]));
      CHECK(rows[i].size() <= static_cast<size_t>(kRowBytes));
      CHECK(contains(rows[i], "\n\nlabel: "));
      // No header but the Subject, no attachment, no MIME scaffolding.
      CHECK_FALSE(contains(rows[i], "X-Spam-Status"));
      CHECK_FALSE(contains(rows[i], "Return-Path"));
      CHECK_FALSE(contains(rows[i], "Content-Type"));
      CHECK_FALSE(contains(rows[i], "iVBORw0KGgo"));
      CHECK_FALSE(contains(rows[i], "preamble"));
      CHECK_FALSE(contains(rows[i], "epilogue"));
      CHECK_FALSE(contains(rows[i], "\r"));
      CHECK_FALSE(contains(rows[i], "message 6"));  // the duplicate body
    }
    for (int64_t i = 0; i < x.get().shape[0]; ++i) CHECK(zero_padded(x, i));

    const std::string* plain = find_row(rows, "easy-ham-1 message 0\n");
    REQUIRE(plain);
    CHECK(*plain == "easy-ham-1 message 0\n\nlabel: ham\nmessage easy-ham-1 0 body\n");
    const std::string* crlf = find_row(rows, "spam-1 message 1");
    REQUIRE(crlf);
    CHECK(*crlf == "spam-1 message 1 folded\n\nlabel: spam\nline two spam-1\n");
    const std::string* mime = find_row(rows, "spam-2 message 2");
    REQUIRE(mime);
    CHECK(*mime == "spam-2 message 2\n\nlabel: spam\na=b soft break spam-2\n\n<p>label: spam</p>");
    const std::string* encoded = find_row(rows, "caf\xC3\xA9 au lait hard-ham-1 message 3");
    CHECK(encoded);
    const std::string* latin1 = find_row(rows, "easy-ham-2 message 4");
    REQUIRE(latin1);
    CHECK(*latin1 ==
          "easy-ham-2 message 4\n\nlabel: ham\nprice \xC2\xA3"
          "5 end easy-ham-2\n");
    const std::string* longest = find_row(rows, "spam-1 message 5");
    REQUIRE(longest);
    // "spam-1 message 5\n\nlabel: spam\nspam-1x" is 37 bytes: byte 2048 would
    // split an é, so the row ends one byte early.
    CHECK(longest->size() == static_cast<size_t>(kRowBytes - 1));
    CHECK(longest->substr(longest->size() - 2) == "\xC3\xA9");
    fs::remove_all(dir);
  }

  TEST_CASE("synthetic folders: stratified 20% hidden, a perfect prediction scores 1") {
    const fs::path dir = write_synthetic_corpus();
    auto task = open_plugin()->create({{"data_dir", dir.string()}});
    auto [x, y] = task.train_split();
    torchexam::Array t = task.test_inputs();
    // 9 kept per folder, llround(1.8) = 2 of them hidden.
    CHECK(x.shape() == std::vector<int64_t>{5 * 7, kRowBytes});
    CHECK(y.shape() == std::vector<int64_t>{5 * 7});
    CHECK(t.shape() == std::vector<int64_t>{5 * 2, kRowBytes});
    const auto train_rows = rows_of(x);
    const auto* labels = static_cast<const int64_t*>(y.get().data);
    for (size_t i = 0; i < train_rows.size(); ++i) CHECK(labels[i] == (contains(train_rows[i], "label: spam") ? 1 : 0));

    std::vector<int64_t> truth, wrong;
    for (const auto& r : rows_of(t)) {
      truth.push_back(contains(r, "label: spam") ? 1 : 0);
      wrong.push_back(1 - truth.back());
    }
    CHECK(task.score(logits(truth).get()) == doctest::Approx(1.0));
    CHECK(task.score(logits(wrong).get()) == doctest::Approx(0.0));
    // Every ham called spam and every spam ham: the confusion matrix's off-diagonal.
    const auto d = boost::json::value_to<torchexam::TaskDiagnostics>(
        boost::json::parse(task.score_with_diagnostics(logits(wrong).get()).diagnostics_json));
    REQUIRE(d.classification);
    CHECK(d.classification->classes == std::vector<std::string>{"ham", "spam"});
    CHECK(d.classification->confusion == std::vector<std::vector<int64_t>>{{0, 6}, {4, 0}});  // 3 ham and 2 spam folders
    CHECK(d.classification->per_class[0].support == 6);
    fs::remove_all(dir);
  }

  TEST_CASE("the real corpus splits 4630/1159, the same every time, without overlap") {
    const fs::path dir = real_data_dir();
    if (!fs::is_directory(dir / "spam-2")) {
      FAIL("the spam-assassin data set is not installed in " << dir.string() << " (run `torchexam data`)");
      return;
    }
    auto lib = open_plugin();
    auto a = lib->create({{"data_dir", dir.string()}});
    auto b = lib->create({{"data_dir", dir.string()}});
    auto [ax, ay] = a.train_split();
    auto [bx, by] = b.train_split();
    torchexam::Array at = a.test_inputs(), bt = b.test_inputs();

    REQUIRE(ax.shape() == std::vector<int64_t>{4630, kRowBytes});
    REQUIRE(ay.shape() == std::vector<int64_t>{4630});
    REQUIRE(at.shape() == std::vector<int64_t>{1159, kRowBytes});
    CHECK(std::memcmp(ax.get().data, bx.get().data, static_cast<size_t>(ax.numel())) == 0);
    CHECK(std::memcmp(ay.get().data, by.get().data, static_cast<size_t>(ay.numel()) * sizeof(int64_t)) == 0);
    CHECK(std::memcmp(at.get().data, bt.get().data, static_cast<size_t>(at.numel())) == 0);

    const auto* y = static_cast<const int64_t*>(ay.get().data);
    int64_t spam = 0, other = 0;
    for (int64_t i = 0; i < 4630; ++i) {
      spam += y[i] == 1;
      other += y[i] != 0 && y[i] != 1;
    }
    CHECK(spam == 1344);
    CHECK(other == 0);

    // Rows are unique across the whole corpus, so a shared row would be a
    // message in both parts.
    std::unordered_set<std::string> train_rows;
    int64_t invalid = 0, unpadded = 0, shared = 0;
    for (const auto& r : rows_of(ax)) {
      invalid += !valid_utf8(r);
      train_rows.insert(r);
    }
    CHECK(train_rows.size() == 4630);
    for (const auto& r : rows_of(at)) {
      invalid += !valid_utf8(r);
      shared += train_rows.count(r) ? 1 : 0;
    }
    for (int64_t i = 0; i < 4630; ++i) unpadded += !zero_padded(ax, i);
    for (int64_t i = 0; i < 1159; ++i) unpadded += !zero_padded(at, i);
    CHECK(shared == 0);
    CHECK(invalid == 0);
    CHECK(unpadded == 0);
  }

  TEST_CASE("the real corpus: the hidden labels reach only score(), which checks the shape") {
    const fs::path dir = real_data_dir();
    if (!fs::is_directory(dir / "spam-2")) {
      FAIL("the spam-assassin data set is not installed in " << dir.string());
      return;
    }
    auto task = open_plugin()->create({{"data_dir", dir.string()}});
    // What the sandbox sees: the training split and label-free test inputs.
    torchexam::Array t = task.test_inputs();
    CHECK(t.get().dtype == TORCHEXAM_DTYPE_UINT8);
    CHECK(t.get().ndim == 2);
    auto [x, y] = task.train_split();
    CHECK(y.get().shape[0] == x.get().shape[0]);
    CHECK(y.get().shape[0] != t.get().shape[0]);

    // 822 ham and 337 spam are hidden: constant predictions score their share.
    CHECK(task.score(logits(std::vector<int64_t>(1159, 0)).get()) == doctest::Approx(822.0 / 1159.0));
    CHECK(task.score(logits(std::vector<int64_t>(1159, 1)).get()) == doctest::Approx(337.0 / 1159.0));

    torchexam::Array wrong_shape(
        torchexam::Array::from_vector(std::vector<float>(1159 * 3), TORCHEXAM_DTYPE_FLOAT32, {1159, 3}));
    CHECK(contains(score_error(task, wrong_shape), "predictions must be [1159, 2] float32, got [1159, 3] float32"));
    torchexam::Array wrong_count(
        torchexam::Array::from_vector(std::vector<float>(20), TORCHEXAM_DTYPE_FLOAT32, {10, 2}));
    CHECK(contains(score_error(task, wrong_count), "got [10, 2] float32"));
    torchexam::Array wrong_dtype(
        torchexam::Array::from_vector(std::vector<int64_t>(1159 * 2), TORCHEXAM_DTYPE_INT64, {1159, 2}));
    CHECK(contains(score_error(task, wrong_dtype), "got [1159, 2] int64"));
  }
}
