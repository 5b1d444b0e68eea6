// Reproducible grading end to end (issue 20): `torchexam grade --repeat`
// of one solution gives bit-identical metrics and byte-identical prediction
// files, and a change of the thread count between two gradings is what
// their fingerprints' difference names.
#include "e2e_util.hpp"

#include "base/hash.hpp"
#include "grading/fingerprint.hpp"

#include <doctest/doctest.h>

#include <algorithm>

using namespace torchexam;
using namespace torchexam::e2e;

namespace {

bool stopped_early(const json::object& run) {
  for (const auto& line : run.at("log").as_array())
    if (std::string_view(line.as_string()).find("stopping before epoch") != std::string_view::npos) return true;
  return false;
}

Fingerprint fingerprint_of(const json::object& result) {
  REQUIRE(result.contains("fingerprint"));
  return json::value_to<Fingerprint>(result.at("fingerprint"));
}

}  // namespace

TEST_SUITE("reproducibility") {
  // The fashion_mnist reference (convolutions, batch norm, dropout, Adam,
  // shuffled batches, two threads) on reduced data, three times. The first
  // run is also the local grading slurm.same_score.fashion_mnist compares
  // with (fixture torchexam_reference_fashion_mnist_reduced).
  TEST_CASE("grade --repeat 3: bit-identical metrics and identical prediction files") {
    const fs::path reference = kSource / "environments/practice/fashion_mnist/reference.cpp";
    std::vector<std::string> args = kReducedReferenceArgs;
    args.insert(args.end(), {"--repeat", "3"});
    auto g = grade(reference, args);
    INFO(json::serialize(g.result));
    REQUIRE(g.exit_code == 0);
    const auto& runs = g.result.at("runs").as_array();
    REQUIRE(runs.size() == 3);
    for (const auto& r : runs) REQUIRE(str(r.as_object(), "verdict") == "ok");
    if (std::getenv("TORCHEXAM_REFERENCE_DIR"))
      store_shared_reference(shared_reference_file("fashion_mnist", true), runs[0].as_object());
    // A run the time budget cut short trained less: that is the budget, not
    // the platform, and the comparison below would mean nothing.
    const bool all_full = std::none_of(runs.begin(), runs.end(), [](const json::value& r) {
      return stopped_early(r.as_object());
    });
    REQUIRE_MESSAGE(all_full, "a run stopped before its last epoch (the machine was too busy to train within the budget); "
                              "run this test on a quieter machine");

    const double first = runs[0].at("metric").as_double();
    for (const auto& r : runs) CHECK(r.at("metric").as_double() == first);  // identical, not close
    CHECK(g.result.at("metrics_identical").as_bool());
    CHECK_FALSE(g.result.at("score_flips").as_bool());
    CHECK(g.result.at("fingerprint_differences").as_array().empty());

    // The prediction files themselves, read from each run's job folder.
    std::vector<std::string> hashes;
    for (const auto& r : runs) {
      const fs::path predictions = fs::path(str(r.as_object(), "job_dir")) / "evaluate" / "predictions.bin";
      REQUIRE(fs::is_regular_file(predictions));
      hashes.push_back(sha256_hex(read_file(predictions)));
    }
    CHECK(hashes[1] == hashes[0]);
    CHECK(hashes[2] == hashes[0]);
    CHECK(g.result.at("predictions_identical").as_bool());

    // Each run says what it ran on, and that it ran deterministically.
    const Fingerprint fp = fingerprint_of(runs[0].as_object());
    CHECK(fp.deterministic);
    CHECK(fp.threads == 2);
    CHECK_FALSE(fp.libtorch.version.empty());
    CHECK_FALSE(fp.libtorch.parallel.empty());
    CHECK_FALSE(fp.compiler.id.empty());
    CHECK(fp.plugin.sha256.size() == 64);
    CHECK(fp.source_sha256 == sha256_hex(read_file(reference)));
    // The installed data set, by its declared sha256 (environment.yaml).
    CHECK(fp.data.count("fashion-mnist") == 1);
  }

  TEST_CASE("a changed thread count is what the fingerprints' difference names") {
    const fs::path source = kSource / "tests/solutions/mlp.cpp";
    const std::vector<std::string> common = {"--limit", "1000", "--budget", "30"};
    auto with = [&](const char* threads) {
      auto args = common;
      args.insert(args.end(), {"--threads", threads});
      return grade(source, args);
    };
    const Graded two = with("2");
    const Graded one = with("1");
    INFO(json::serialize(two.result));
    INFO(json::serialize(one.result));
    REQUIRE(str(two.result, "verdict") == "ok");
    REQUIRE(str(one.result, "verdict") == "ok");
    const auto reasons = fingerprint_differences(fingerprint_of(two.result), fingerprint_of(one.result));
    // Whatever the metrics did, the thread count is the one thing that changed.
    CHECK(reasons == std::vector<std::string>{"thread count 2 -> 1"});
    if (two.result.at("metric").as_double() != one.result.at("metric").as_double())
      MESSAGE("the metric moved with the thread count: " << two.result.at("metric").as_double() << " -> "
                                                         << one.result.at("metric").as_double());
  }
}
