// Tests of the workspace watcher. No sleeps: each test steps a real
// io_context until a condition holds (run_until, with a deadline), and uses
// Watcher::sync() to know that every change made before it was delivered.
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "daemon/watcher.hpp"

#include <boost/asio/io_context.hpp>

#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <set>
#include <stdexcept>
#include <string>

using namespace torchexam::daemon;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

// Steps `io` until cond() holds; false once `timeout` has passed.
template <class Cond>
bool run_until(boost::asio::io_context& io, Cond cond, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!cond()) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    if (io.stopped()) io.restart();
    io.run_one_for(deadline - now);
  }
  return true;
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "torchexam-watcher-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = fs::canonical(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

void write_file(const fs::path& p, const std::string& text = "x\n") {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  out << text;
  out.close();
  REQUIRE(out.good());
}

bool has_cookie_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().filename().string().starts_with(".torchexam-cookie-")) return true;
  }
  return false;
}

// A Watcher plus everything it delivered.
struct Harness {
  boost::asio::io_context io;
  TempDir dir;
  std::vector<std::vector<fs::path>> batches;
  std::unique_ptr<Watcher> watcher;

  // Starts an inotify Watcher at once unless `start_now` is false (then call start()).
  explicit Harness(bool start_now = true, std::chrono::milliseconds debounce = 20ms) {
    if (start_now) start(debounce);
  }

  void start(std::chrono::milliseconds debounce = 20ms) {
    start(make_watcher_backend("inotify", io, dir.path), debounce);
  }

  void start(std::unique_ptr<WatcherBackend> backend, std::chrono::milliseconds debounce) {
    watcher = std::make_unique<Watcher>(io, dir.path, std::move(backend), debounce,
                                        [this](const std::vector<fs::path>& changes) { batches.push_back(changes); });
  }

  // Waits until every change made before this call has been delivered.
  void sync() {
    bool done = false;
    watcher->sync([&] { done = true; });
    REQUIRE(run_until(io, [&] { return done; }));
  }

  std::set<fs::path> all() const {
    std::set<fs::path> out;
    for (const auto& b : batches) out.insert(b.begin(), b.end());
    return out;
  }

  std::size_t count(const fs::path& p) const {
    std::size_t n = 0;
    for (const auto& b : batches) n += static_cast<std::size_t>(std::count(b.begin(), b.end(), p));
    return n;
  }

  fs::path operator/(const fs::path& rel) const { return dir.path / rel; }
};

}  // namespace

TEST_SUITE("watcher") {
  TEST_CASE("inotify: a write in a task folder is reported after sync") {
    Harness h(false);
    fs::create_directories(h / "task1" / "data");
    write_file(h / "task1" / "old.cpp");  // written before start: not a change
    h.start();

    write_file(h / "task1" / "solution.cpp");
    write_file(h / "task1" / "data" / "labels.csv");
    write_file(h / "notes.txt");
    h.sync();
    CHECK(h.all() ==
          std::set<fs::path>{h / "task1" / "solution.cpp", h / "task1" / "data" / "labels.csv", h / "notes.txt"});
    for (const auto& b : h.batches) CHECK(std::is_sorted(b.begin(), b.end()));
  }

  TEST_CASE("inotify: an editor-style save reports the final path, never a hidden temp") {
    Harness h;
    fs::create_directories(h / "task1");
    write_file(h / "task1" / "solution.cpp", "old\n");
    h.sync();
    h.batches.clear();

    SUBCASE("hidden swap file renamed over the original") {
      write_file(h / "task1" / ".solution.cpp.swp", "new\n");
      fs::rename(h / "task1" / ".solution.cpp.swp", h / "task1" / "solution.cpp");
      h.sync();
      CHECK(h.all() == std::set<fs::path>{h / "task1" / "solution.cpp"});
    }
    SUBCASE("visible temp file renamed over the original") {
      write_file(h / "task1" / "solution.cpp~tmp", "new\n");
      fs::rename(h / "task1" / "solution.cpp~tmp", h / "task1" / "solution.cpp");
      h.sync();
      CHECK(h.all().contains(h / "task1" / "solution.cpp"));
    }
    SUBCASE("truncate and write in place") {
      write_file(h / "task1" / "solution.cpp", "new\n");
      h.sync();
      CHECK(h.all() == std::set<fs::path>{h / "task1" / "solution.cpp"});
    }
    CHECK(h.count(h / "task1" / "solution.cpp") == 1);
  }

  TEST_CASE("inotify: two quick writes to one file are delivered once, by the debounce") {
    Harness h;
    write_file(h / "solution.cpp", "one\n");
    write_file(h / "solution.cpp", "two\n");
    // No sync: the debounce timer delivers on its own.
    REQUIRE(run_until(h.io, [&] { return !h.batches.empty(); }));
    CHECK(h.batches.front() == std::vector<fs::path>{h / "solution.cpp"});
    h.sync();
    CHECK(h.count(h / "solution.cpp") == 1);
  }

  TEST_CASE("inotify: a folder created after start is watched") {
    Harness h;
    fs::create_directories(h / "task2");
    write_file(h / "task2" / "a.py");  // may land before the watch exists: the scan finds it
    fs::create_directories(h / "task3" / "sub" / "deep");
    write_file(h / "task3" / "sub" / "deep" / "b.py");
    h.sync();
    CHECK(h.all() == std::set<fs::path>{h / "task2" / "a.py", h / "task3" / "sub" / "deep" / "b.py"});

    // Now the watches certainly exist: later writes arrive as events.
    h.batches.clear();
    write_file(h / "task2" / "c.py");
    write_file(h / "task3" / "sub" / "deep" / "d.py");
    h.sync();
    CHECK(h.all() == std::set<fs::path>{h / "task2" / "c.py", h / "task3" / "sub" / "deep" / "d.py"});
  }

  TEST_CASE("inotify: a folder moved in is watched and its files reported; one moved out is forgotten") {
    Harness h;
    TempDir outside;
    fs::create_directories(outside.path / "task4" / "sub");
    write_file(outside.path / "task4" / "sub" / "model.py");
    fs::rename(outside.path / "task4", h / "task4");
    h.sync();
    CHECK(h.all() == std::set<fs::path>{h / "task4" / "sub" / "model.py"});

    h.batches.clear();
    write_file(h / "task4" / "sub" / "train.py");
    h.sync();
    CHECK(h.all() == std::set<fs::path>{h / "task4" / "sub" / "train.py"});

    h.batches.clear();
    fs::rename(h / "task4", outside.path / "gone");
    h.sync();
    write_file(outside.path / "gone" / "sub" / "late.py");
    write_file(h / "marker.txt");
    h.sync();
    CHECK(h.all() == std::set<fs::path>{h / "marker.txt"});
  }

  TEST_CASE("inotify: files under build/ and hidden files are not reported") {
    Harness h;
    fs::create_directories(h / "task1" / "build");
    fs::create_directories(h / ".git");
    write_file(h / "build.txt");  // a file named like the folder is fine
    fs::create_directories(h / "build" / "obj");
    write_file(h / "build" / "out.o");
    write_file(h / "build" / "obj" / "a.o");
    write_file(h / "task1" / "build" / "x.cpp");
    write_file(h / ".git" / "config");
    write_file(h / "task1" / ".hidden.cpp");
    fs::create_directories(h / ".torchexam-cookie-dir");  // hidden folder, though cookie-like
    write_file(h / ".torchexam-cookie-dir" / "x");
    fs::create_directories(h / "task1" / "sub");
    write_file(h / "task1" / "sub" / ".torchexam-cookie-1-1");  // cookies live in the root only
    write_file(h / "task1" / "ok.cpp");
    h.sync();
    CHECK(h.all() == std::set<fs::path>{h / "build.txt", h / "task1" / "ok.cpp"});
  }

  TEST_CASE("inotify: cookie files are never reported and are removed") {
    Harness h;
    std::vector<int> order;
    h.watcher->sync([&] { order.push_back(1); });
    write_file(h / "a.txt");
    h.watcher->sync([&] { order.push_back(2); });
    h.watcher->sync([&] { order.push_back(3); });
    REQUIRE(run_until(h.io, [&] { return order.size() == 3; }));
    CHECK(order == std::vector<int>{1, 2, 3});
    CHECK(h.all() == std::set<fs::path>{h / "a.txt"});
    CHECK_FALSE(has_cookie_files(h.dir.path));
  }

  TEST_CASE("inotify: sync flushes pending changes before done(), even with a long debounce") {
    Harness h(false);
    std::vector<std::string> log;
    h.watcher = std::make_unique<Watcher>(h.io, h.dir.path, make_watcher_backend("inotify", h.io, h.dir.path),
                                          std::chrono::hours(1), [&](const std::vector<fs::path>& changes) {
                                            for (const auto& p : changes) log.push_back(p.filename().string());
                                          });
    write_file(h / "b.txt");
    write_file(h / "a.txt");
    bool done = false;
    h.watcher->sync([&] {
      log.push_back("done");
      done = true;
    });
    REQUIRE(run_until(h.io, [&] { return done; }));
    CHECK(log == std::vector<std::string>{"a.txt", "b.txt", "done"});
  }

  TEST_CASE("inotify: a queue overflow rescans and still finishes the sync") {
    long max_events = 0;
    {
      std::ifstream in("/proc/sys/fs/inotify/max_queued_events");
      in >> max_events;
    }
    if (max_events <= 0 || max_events > 100000)
      torchexam::test::skip_test("fs.inotify.max_queued_events is " + std::to_string(max_events) +
                                 ", too many events to overflow the queue in a unit test");
    Harness h;
    // Each new file queues IN_CREATE and IN_CLOSE_WRITE; nothing is read
    // while they are written, so the queue overflows.
    const long files = max_events / 2 + 64;
    std::set<fs::path> expected;
    for (long i = 0; i < files; ++i) {
      const fs::path p = h / ("f" + std::to_string(i) + ".txt");
      write_file(p);
      expected.insert(p);
    }
    h.sync();
    CHECK(h.all() == expected);
    CHECK_FALSE(has_cookie_files(h.dir.path));
  }

  TEST_CASE("inotify: start fails with the path when the root is missing") {
    boost::asio::io_context io;
    TempDir dir;
    const fs::path missing = dir.path / "nope";
    try {
      Watcher w(io, missing, make_watcher_backend("inotify", io, missing), 10ms, [](const auto&) {});
      FAIL("expected an exception");
    } catch (const std::runtime_error& e) {
      CHECK(std::string(e.what()).find(missing.string()) != std::string::npos);
    }
  }

  TEST_CASE("inotify: nothing runs after the Watcher is destroyed") {
    Harness h(false);
    h.start(std::chrono::hours(1));
    write_file(h / "a.txt");
    h.io.poll();  // reads the event (or not yet) and arms the debounce timer
    bool done = false;
    h.watcher->sync([&] { done = true; });  // the loop does not run before the reset
    h.watcher.reset();
    h.io.restart();
    h.io.run_for(5s);  // returns as soon as no work is left
    CHECK_FALSE(done);
    CHECK(h.batches.empty());
    CHECK_FALSE(has_cookie_files(h.dir.path));
  }

  TEST_CASE("fake: inject and sync deliver, distinct and sorted") {
    Harness h(false);
    auto backend = make_watcher_backend("fake", h.io, h.dir.path);
    auto* fake = dynamic_cast<FakeWatcherBackend*>(backend.get());
    REQUIRE(fake != nullptr);
    h.start(std::move(backend), std::chrono::hours(1));

    fake->inject(h / "task1" / "b.cpp");
    fake->inject("task1/a.cpp");  // relative to the root
    fake->inject(h / "task1" / "b.cpp");
    fake->inject(h / "task1" / ".b.cpp.swp");
    fake->inject(h / "build" / "x.o");
    fake->inject("/elsewhere/c.cpp");
    h.sync();
    REQUIRE(h.batches.size() == 1);
    CHECK(h.batches[0] == std::vector<fs::path>{h / "task1" / "a.cpp", h / "task1" / "b.cpp"});
    CHECK_FALSE(has_cookie_files(h.dir.path));
  }

  TEST_CASE("fake: the debounce delivers without a sync") {
    Harness h(false);
    auto backend = std::make_unique<FakeWatcherBackend>(h.io, h.dir.path);
    auto* fake = backend.get();
    h.start(std::move(backend), 1ms);
    fake->inject("b");
    fake->inject("a");
    REQUIRE(run_until(h.io, [&] { return !h.batches.empty(); }));
    CHECK(h.batches[0] == std::vector<fs::path>{h / "a", h / "b"});
  }

  TEST_CASE("fake: a callback may destroy the Watcher") {
    boost::asio::io_context io;
    TempDir dir;
    auto backend = std::make_unique<FakeWatcherBackend>(io, dir.path);
    auto* fake = backend.get();
    std::unique_ptr<Watcher> w;
    int calls = 0;
    w = std::make_unique<Watcher>(io, dir.path, std::move(backend), std::chrono::hours(1),
                                  [&](const std::vector<fs::path>&) {
                                    ++calls;
                                    w.reset();
                                  });
    bool done = false;
    fake->inject("a");
    w->sync([&] { done = true; });
    REQUIRE(run_until(io, [&] { return w == nullptr; }));
    io.restart();
    io.run_for(5s);
    CHECK(calls == 1);
    CHECK_FALSE(done);
    CHECK_FALSE(has_cookie_files(dir.path));
  }

  TEST_CASE("registry: names, and an unknown name is refused with the list") {
    const auto names = watcher_backend_names();
    CHECK(std::find(names.begin(), names.end(), "inotify") != names.end());
    CHECK(std::find(names.begin(), names.end(), "fake") != names.end());

    boost::asio::io_context io;
    try {
      (void)make_watcher_backend("kqueue", io, fs::temp_directory_path());
      FAIL("expected std::invalid_argument");
    } catch (const std::invalid_argument& e) {
      const std::string what = e.what();
      CHECK(what.find("kqueue") != std::string::npos);
      CHECK(what.find("inotify") != std::string::npos);
      CHECK(what.find("fake") != std::string::npos);
    }
  }
}
