// `torchexam doctor` end to end, through the CLI: the healthy path on this
// machine, a missing data set failing with its install command, and the
// training-time forecast of a task's reference through the real runner.
// Assertions are about behaviour, never about timings.
#include <doctest/doctest.h>

#include "run_cli.hpp"

#include <unistd.h>
#include <boost/json.hpp>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

const fs::path kSource = TORCHEXAM_SOURCE_DIR;
const fs::path kCli = TORCHEXAM_CLI;

struct Doctor {
  int exit_code = -1;
  json::object report;
  std::string stderr_text;

  // The check named `name` (fails the test when there is none).
  json::object check(const std::string& name) const {
    for (const auto& c : report.at("checks").as_array())
      if (c.as_object().at("name").as_string() == name) return c.as_object();
    FAIL("no check named " << name);
    return {};
  }
};

Doctor doctor(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  args.insert(args.begin(), "doctor");
  args.push_back("--json");
  const torchexam::test::CliRun run = torchexam::test::run_cli(kCli, std::move(args), std::move(env), 300);
  const std::string& out = run.out;
  Doctor d;
  d.exit_code = run.exit_code;
  d.stderr_text = run.err;
  json::error_code ec;
  const json::value v = json::parse(out, ec);
  INFO("stdout: " << out);
  INFO("stderr: " << d.stderr_text);
  REQUIRE_FALSE(ec);
  REQUIRE(v.is_object());
  d.report = v.get_object();
  return d;
}

std::string str(const json::object& o, const char* key) { return std::string(o.at(key).as_string()); }

fs::path fresh_dir(const std::string& name) {
  const fs::path d = fs::temp_directory_path() / ("torchexam-doctor-e2e-" + name + "-" + std::to_string(getpid()));
  fs::remove_all(d);
  fs::create_directories(d);
  return d;
}

}  // namespace

TEST_CASE("doctor passes on this machine for the practice exam") {
  const Doctor d = doctor({(kSource / "environments/practice").string(), "--no-forecast"});
  for (const auto& c : d.report.at("checks").as_array())
    CHECK_MESSAGE(str(c.as_object(), "status") != "fail", json::serialize(c));
  CHECK(d.exit_code == 0);
  CHECK(d.report.at("ok").as_bool());
  CHECK(str(d.check("libtorch runs"), "status") == "ok");
  CHECK(str(d.check("libtorch version"), "status") == "ok");
  CHECK(str(d.check("data fashion-mnist"), "status") == "ok");
  CHECK(str(d.check("plugin fashion_mnist"), "status") == "ok");
  CHECK(d.report.at("forecasts").as_array().empty());
}

TEST_CASE("doctor fails with the install command when a data set is missing") {
  const fs::path empty = fresh_dir("no-data");
  const fs::path env = kSource / "environments/practice";
  const Doctor d = doctor({env.string(), "--no-forecast"}, {{"TORCHEXAM_DATA_DIR", empty.string()}});
  CHECK(d.exit_code == 1);
  CHECK_FALSE(d.report.at("ok").as_bool());
  const json::object data = d.check("data auto-mpg");
  CHECK(str(data, "status") == "fail");
  CHECK(str(data, "found").find((empty / "auto-mpg" / "cars.json").string() + " is missing") != std::string::npos);
  CHECK(str(data, "fix") == "torchexam data " + env.string());
  CHECK(str(d.check("data fashion-mnist"), "status") == "ok");  // installed by apt, not in the data folder
  fs::remove_all(empty);
}

TEST_CASE("doctor forecasts a reference's training time through the runner") {
  // A one-task environment: the practice regression task and its data.
  const fs::path env = fresh_dir("forecast-env");
  fs::copy(kSource / "environments/practice/regression", env / "regression", fs::copy_options::recursive);
  std::ofstream(env / "environment.yaml")
      << "name: doctor-forecast-test\ntitle: Forecast\nduration: 1h\npass_mark: 1\n"
         "threads: 1\ntasks: [regression]\ndata:\n"
         "  - name: auto-mpg\n    apt: python3-vega-datasets\n    files:\n"
         "      - path: usr/lib/python3/dist-packages/vega_datasets/_data/cars.json\n"
         "        sha256: f686a53678b21f4231e2f6a5ba7ce5761d9d39204fccdea1caa29fb8c460e319\n";
  const Doctor d = doctor({env.string(), "--forecast-seconds", "2"});
  CHECK(d.exit_code == 0);
  const auto& forecasts = d.report.at("forecasts").as_array();
  REQUIRE(forecasts.size() == 1);
  const json::object f = forecasts[0].as_object();
  CHECK(str(f, "task") == "regression");
  CHECK(str(f, "error") == "");
  CHECK(f.at("samples_per_s").to_number<double>() > 0);
  CHECK(f.at("reference_s").to_number<double>() > 0);
  CHECK(f.at("budget_s").to_number<double>() == doctest::Approx(120));
  CHECK(str(d.check("forecast regression"), "found").find("reference needs about") != std::string::npos);
  // Each forecast carries its verdict like every check, and how busy the machine was.
  CHECK((str(f, "status") == "ok" || str(f, "status") == "warn"));
  CHECK(f.contains("fix"));
  CHECK(f.at("cpus").to_number<int64_t>() >= 1);
  CHECK(f.contains("load_before"));
  // Stored for the daemon's ETAs.
  const char* state = std::getenv("TORCHEXAM_STATE_DIR");
  REQUIRE(state);
  CHECK(fs::exists(fs::path(state) / "forecast" / "doctor-forecast-test.json"));
  fs::remove_all(env);
}
