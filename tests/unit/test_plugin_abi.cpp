#include <doctest/doctest.h>
#include <torchexam/plugin.hpp>

#include "grading/task_diagnostics.hpp"

#include <boost/json.hpp>

#include <cstddef>
#include <filesystem>
#include <string>

#include "idx_writer.hpp"

namespace {
std::string test_plugin(const char* name) {
  return std::string(TORCHEXAM_TEST_PLUGIN_DIR) + "/libtorchexam_test_plugin_" + name + ".so";
}
std::string message_of(const std::string& path) {
  try {
    torchexam::PluginLibrary::open(path);
  } catch (const torchexam::PluginError& e) {
    return e.what();
  }
  return "";
}
}  // namespace

TEST_SUITE("plugin_abi") {
  TEST_CASE("a plugin built for another ABI version is refused, naming both versions") {
    const std::string msg = message_of(test_plugin("future_abi"));
    CHECK(msg.find("ABI version 99") != std::string::npos);
    CHECK(msg.find("speaks version 1") != std::string::npos);
    CHECK(msg.find("rebuild") != std::string::npos);
  }

  TEST_CASE("a plugin built before the optional evaluation member loads and allows any batching") {
    auto lib = torchexam::PluginLibrary::open(test_plugin("abi_v1_without_evaluation"));
    CHECK(lib->name() == "old");
    CHECK(lib->vtable().header.struct_size == TORCHEXAM_PLUGIN_V1_REQUIRED_SIZE);
    CHECK_FALSE(TORCHEXAM_PLUGIN_HAS(lib->vtable().header.struct_size, evaluation));
    auto task = lib->create({});
    CHECK(std::string(task.info().metric_name) == "mae");
    const torchexam_evaluation e = task.evaluation();  // not read from past the old table's end
    CHECK(e.max_batch == 0);
    CHECK(e.in_order == 0);
    CHECK(task.test_inputs().shape() == std::vector<int64_t>{3, 2});
  }

  TEST_CASE("a plugin built before the optional score_with_diagnostics member loads and reports the metric only") {
    auto lib = torchexam::PluginLibrary::open(test_plugin("abi_v1_before_diagnostics"));
    CHECK(lib->name() == "before_diagnostics");
    CHECK(lib->vtable().header.struct_size == offsetof(torchexam_plugin_v1, score_with_diagnostics));
    CHECK(TORCHEXAM_PLUGIN_HAS(lib->vtable().header.struct_size, evaluation));
    CHECK_FALSE(TORCHEXAM_PLUGIN_HAS(lib->vtable().header.struct_size, score_with_diagnostics));
    auto task = lib->create({});
    CHECK_FALSE(task.has_diagnostics());
    torchexam::Array p(torchexam::Array::from_vector(std::vector<float>(3), TORCHEXAM_DTYPE_FLOAT32, {3}));
    const torchexam::Scored s = task.score_with_diagnostics(p.get());  // through score(), not past the table's end
    CHECK(s.metric == 0.25);
    CHECK(s.diagnostics_json.empty());
    auto oldest = torchexam::PluginLibrary::open(test_plugin("abi_v1_without_evaluation"))->create({});
    CHECK_FALSE(oldest.has_diagnostics());
    CHECK(oldest.score_with_diagnostics(p.get()).diagnostics_json.empty());
  }

  TEST_CASE("a plugin built with this SDK has the evaluation member; time_series declares one window per call, in order") {
    const auto dir = std::filesystem::path(TORCHEXAM_TEST_PLUGIN_DIR).parent_path() / "plugins";
    auto fashion = torchexam::PluginLibrary::open((dir / "libtorchexam-task-fashion_mnist.so").string());
    CHECK(fashion->vtable().header.struct_size == sizeof(torchexam_plugin_v1));
    CHECK(TORCHEXAM_PLUGIN_HAS(fashion->vtable().header.struct_size, evaluation));
    const torchexam_evaluation any = fashion->create({}).evaluation();  // TaskBase's default
    CHECK(any.max_batch == 0);
    CHECK(any.in_order == 0);
    auto series = torchexam::PluginLibrary::open((dir / "libtorchexam-task-time_series.so").string());
    // evaluation() does not read the data: the folder need not exist.
    const torchexam_evaluation one = series->create({{"data_dir", "/nonexistent"}}).evaluation();
    CHECK(one.max_batch == 1);
    CHECK(one.in_order == 1);
  }

  TEST_CASE("a library without the entry point is refused") {
    const std::string msg = message_of(test_plugin("not_a_plugin"));
    CHECK(msg.find("is not a TorchExam task plugin") != std::string::npos);
  }

  TEST_CASE("a missing file is refused with the loader's reason") {
    const std::string msg = message_of("/nonexistent/libx.so");
    CHECK(msg.find("cannot load task plugin '/nonexistent/libx.so'") != std::string::npos);
  }

  TEST_CASE("the fashion_mnist plugin describes its task and rejects unknown options") {
    const auto path = std::filesystem::path(TORCHEXAM_TEST_PLUGIN_DIR).parent_path() / "plugins" /
                      "libtorchexam-task-fashion_mnist.so";
    auto lib = torchexam::PluginLibrary::open(path.string());
    CHECK(lib->name() == "fashion_mnist");
    auto task = lib->create({});
    const auto& info = task.info();
    CHECK(std::string(info.metric_name) == "accuracy");
    CHECK(info.higher_is_better == 1);
    CHECK(torchexam::spec_string(info.input) == "[N, 1, 28, 28] float32");
    CHECK(torchexam::spec_string(info.output) == "[N, 10] float32");
    try {
      lib->create({{"limt", "10"}});
      FAIL("an unknown option was accepted");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("unknown plugin option 'limt'") != std::string::npos);
    }
  }

  TEST_CASE("fashion_mnist scores predictions and rejects a wrong shape without crashing") {
    const auto dir = torchexam::test::temp_dir("fashion-tiny");
    torchexam::test::write_fashion_like(dir, 20, {3, 1, 4});
    const auto path = std::filesystem::path(TORCHEXAM_TEST_PLUGIN_DIR).parent_path() / "plugins" /
                      "libtorchexam-task-fashion_mnist.so";
    auto lib = torchexam::PluginLibrary::open(path.string());
    auto task = lib->create({{"data_dir", dir.string()}});
    torchexam::Array x = task.test_inputs();
    REQUIRE(x.shape() == std::vector<int64_t>{3, 1, 28, 28});
    // Labels of the tiny test set are 3, 1, 4: predict 3, 1, 0 -> 2/3.
    std::vector<float> logits(30, 0.f);
    logits[0 * 10 + 3] = 1;
    logits[1 * 10 + 1] = 1;
    logits[2 * 10 + 0] = 1;
    torchexam::Array p(torchexam::Array::from_vector(logits, TORCHEXAM_DTYPE_FLOAT32, {3, 10}));
    CHECK(task.score(p.get()) == doctest::Approx(2.0 / 3.0));
    // The same metric with the confusion matrix: rows the truth, columns the prediction.
    REQUIRE(task.has_diagnostics());
    const torchexam::Scored scored = task.score_with_diagnostics(p.get());
    CHECK(scored.metric == doctest::Approx(2.0 / 3.0));
    const auto d = boost::json::value_to<torchexam::TaskDiagnostics>(boost::json::parse(scored.diagnostics_json));
    REQUIRE(d.classification);
    const auto& c = *d.classification;
    CHECK(c.classes.size() == 10);
    CHECK(c.classes[0] == "T-shirt/top");
    CHECK(c.classes[9] == "Ankle boot");
    std::vector<std::vector<int64_t>> confusion(10, std::vector<int64_t>(10, 0));
    confusion[3][3] = 1;
    confusion[1][1] = 1;
    confusion[4][0] = 1;
    CHECK(c.confusion == confusion);
    CHECK(c.per_class[4].support == 1);
    CHECK(c.per_class[4].recall == 0.0);
    CHECK(c.per_class[0].precision == 0.0);  // predicted once, wrongly
    CHECK(c.per_class[3].f1 == 1.0);
    torchexam::Array wrong(torchexam::Array::from_vector(std::vector<float>(15), TORCHEXAM_DTYPE_FLOAT32, {3, 5}));
    try {
      task.score(wrong.get());
      FAIL("a wrong shape was scored");
    } catch (const torchexam::PluginError& e) {
      CHECK(std::string(e.what()).find("predictions must be [3, 10] float32, got [3, 5] float32") !=
            std::string::npos);
    }
    std::filesystem::remove_all(dir);
  }
}
