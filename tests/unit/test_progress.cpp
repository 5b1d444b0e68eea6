// The progress line of `grade` and `submit --wait`: how much it prints.
#include "cli/progress.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>

using namespace torchexam;

namespace {

// Runs `body` with stderr going to a file; what it printed.
template <class F>
std::string captured(F&& body) {
  std::fflush(stderr);
  char path[] = "/tmp/torchexam-progress-XXXXXX";
  const int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  const int saved = ::dup(STDERR_FILENO);
  ::dup2(fd, STDERR_FILENO);
  body();
  std::fflush(stderr);
  ::dup2(saved, STDERR_FILENO);
  ::close(saved);
  ::close(fd);
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), {});
  ::unlink(path);
  return text;
}

events::Progress epoch(int n, int of, std::map<std::string, double> metrics = {}) {
  events::Progress p;
  p.kind = events::Progress::Kind::epoch;
  p.epoch = n;
  p.epochs = of;
  p.loss = 1.0 / n;
  p.samples_per_s = 3000;
  p.eta_s = 10;
  p.elapsed_s = 0.1 * n;
  p.budget_left_s = 180 - p.elapsed_s;
  p.metrics = std::move(metrics);
  return p;
}

size_t lines(const std::string& s) { return static_cast<size_t>(std::count(s.begin(), s.end(), '\n')); }

}  // namespace

TEST_SUITE("progress") {
  TEST_CASE("a line says elapsed of the budget, not a constant budget left") {
    const std::string line = cli::ProgressLine::format(epoch(3, 150));
    CHECK(line.find("epoch 3/150") != std::string::npos);
    CHECK(line.find("3000 samples/s") != std::string::npos);
    CHECK(line.find("ETA 10s") != std::string::npos);
    CHECK(line.find("0s of 3m00s") != std::string::npos);
    CHECK(line.find("budget left") == std::string::npos);
  }

  // 150 quick epochs: not 150 lines.
  TEST_CASE("not a terminal: the first line, epochs whose metrics changed and the last epoch") {
    const std::string out = captured([] {
      cli::ProgressLine line(false);
      for (int e = 1; e <= 150; ++e) line.progress(epoch(e, 150, e == 50 ? std::map<std::string, double>{{"val", 0.5}} : std::map<std::string, double>{}));
    });
    INFO(out);
    CHECK(lines(out) <= 4);
    CHECK(out.find("epoch 1/150") != std::string::npos);
    CHECK(out.find("epoch 50/150") != std::string::npos);   // a new metric
    CHECK(out.find("epoch 150/150") != std::string::npos);  // the last
    CHECK(out.find("\r") == std::string::npos);
  }

  TEST_CASE("a training that stops early still shows its last epoch") {
    const std::string out = captured([] {
      cli::ProgressLine line(false);
      for (int e = 1; e <= 7; ++e) line.progress(epoch(e, 150));
      line.stage("evaluate");
    });
    INFO(out);
    CHECK(out.find("epoch 7/150") != std::string::npos);
    CHECK(out.find("[evaluate]") > out.find("epoch 7/150"));
  }

  TEST_CASE("on a terminal: one line rewritten in place; it stays only when metrics change, and at the end") {
    const std::string out = captured([] {
      cli::ProgressLine line(true);
      for (int e = 1; e <= 150; ++e) line.progress(epoch(e, 150, e >= 100 ? std::map<std::string, double>{{"val", 0.9}} : std::map<std::string, double>{}));
    });
    CHECK(std::count(out.begin(), out.end(), '\r') == 150);
    CHECK(lines(out) == 2);  // epoch 100 (its metric is new) and epoch 150
  }
}
