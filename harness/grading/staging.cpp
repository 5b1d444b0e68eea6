#include "grading/staging.hpp"

#include "base/hash.hpp"
#include "config/data_sets.hpp"
#include "sandbox/array_file.hpp"

#include <torchexam/plugin.hpp>

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <optional>
#include <random>

namespace torchexam {
namespace fs = std::filesystem;
namespace staged = sandbox::staged;

namespace {

// Bump when what a staged directory holds changes, so old entries are not reused.
constexpr const char* kLayoutVersion = "torchexam-staged-task-2";  // 2: task.json carries evaluation
// Temporary folders of stagers that died are removed after this long.
constexpr auto kStaleTemp = std::chrono::hours(6);

std::string unique_suffix() {
  std::random_device rd;
  return fmt::format("{}-{:08x}", getpid(), rd());
}

// A complete entry made for `key`, or nothing.
std::optional<sandbox::TaskSpec> complete_entry(const fs::path& dir, const std::string& key) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return std::nullopt;
  for (const char* f : {staged::kTrainInputs, staged::kTrainTargets, staged::kEvaluateInputs})
    if (!fs::is_regular_file(dir / f, ec)) return std::nullopt;
  try {
    auto spec = sandbox::read_task_spec(dir / staged::kSpec);
    if (spec.key != key) return std::nullopt;
    return spec;
  } catch (const sandbox::StagedTaskError&) {
    return std::nullopt;
  }
}

void remove_stale_temps(const fs::path& root) {
  std::error_code ec;
  const auto now = fs::file_time_type::clock::now();
  for (const auto& e : fs::directory_iterator(root, ec)) {
    const auto name = e.path().filename().string();
    if (name.find(".tmp-") == std::string::npos && name.find(".old-") == std::string::npos) continue;
    std::error_code ec2;
    const auto t = fs::last_write_time(e.path(), ec2);
    if (!ec2 && now - t > kStaleTemp) fs::remove_all(e.path(), ec2);
  }
}

void check_batch(const Array& a, const char* what, const std::string& plugin) {
  if (a.get().ndim < 1)
    throw PluginError(fmt::format("task plugin '{}' returned {} with no batch dimension", plugin, what));
}

}  // namespace

std::string staging_key(const StageRequest& r) {
  Sha256 h;
  h.field(kLayoutVersion).field(std::to_string(sandbox::kArrayFileVersion));
  h.field("plugin").field(file_sha256(r.plugin));
  for (const auto& [k, v] : r.options) h.field("option").field(k).field(v);
  const auto data_dir = r.options.find("data_dir");
  if (!r.data_pins.empty()) {
    h.field("pins");
    for (const auto& p : r.data_pins) h.field(p);
  } else if (data_dir != r.options.end() && fs::is_directory(data_dir->second)) {
    h.field("tree").field(data_sets::tree_sha256(data_dir->second));
  }
  return h.hex();
}

StagedTask stage_task(const StageRequest& r, const std::function<void(const std::string&)>& say_fn) {
  auto say = [&](const std::string& s) {
    if (say_fn) say_fn(s);
  };
  StagedTask out;
  out.key = staging_key(r);
  const fs::path root = r.cache_dir / "staged";
  out.dir = root / out.key.substr(0, 32);
  if (auto spec = complete_entry(out.dir, out.key)) {
    out.cached = true;
    out.spec = std::move(*spec);
    say(fmt::format("staged data reused from {}", out.dir.string()));
    return out;
  }

  fs::create_directories(root);
  // One stager per key at a time: a burst of submissions loads the data set
  // once, not once per worker thread.
  const FileLock lock(root / (out.key.substr(0, 32) + ".lock"), r.cancel);
  if (!lock.held() || (r.cancel && r.cancel->load())) {
    out.cancelled = true;
    return out;
  }
  if (auto spec = complete_entry(out.dir, out.key)) {
    out.cached = true;
    out.spec = std::move(*spec);
    say(fmt::format("staged data reused from {} (staged by another job meanwhile)", out.dir.string()));
    return out;
  }
  remove_stale_temps(root);
  const fs::path tmp = root / (out.key.substr(0, 32) + ".tmp-" + unique_suffix());
  struct RemoveOnExit {
    fs::path p;
    ~RemoveOnExit() {
      std::error_code ec;
      if (!p.empty()) fs::remove_all(p, ec);
    }
  } cleanup{tmp};
  fs::create_directories(tmp / "train");
  fs::create_directories(tmp / "evaluate");

  auto lib = PluginLibrary::open(r.plugin.string());
  Task task = lib->create(r.options);
  sandbox::TaskSpec spec = sandbox::task_spec_from_info(task.info());
  spec.evaluation = sandbox::evaluation_policy_from(task.evaluation());
  spec.key = out.key;
  {
    say(fmt::format("staging {}: loading the training split", spec.name));
    auto [inputs, targets] = task.train_split();
    check_batch(inputs, "training inputs", lib->name());
    check_batch(targets, "training targets", lib->name());
    if (inputs.get().shape[0] != targets.get().shape[0])
      throw PluginError(fmt::format("task plugin '{}' returned {} training inputs but {} targets", lib->name(),
                                    inputs.get().shape[0], targets.get().shape[0]));
    sandbox::write_array_file(tmp / staged::kTrainInputs, inputs.get());
    sandbox::write_array_file(tmp / staged::kTrainTargets, targets.get());
    spec.train_samples = inputs.get().shape[0];
  }
  {
    say(fmt::format("staging {}: loading the test inputs ({} training samples staged)", spec.name,
                    spec.train_samples));
    Array inputs = task.test_inputs();
    check_batch(inputs, "test inputs", lib->name());
    sandbox::write_array_file(tmp / staged::kEvaluateInputs, inputs.get());
    spec.test_samples = inputs.get().shape[0];
  }
  sandbox::write_task_spec(tmp / staged::kSpec, spec);

  // Into place. If another stager got there first, its entry is as good as
  // ours (same key); if a broken entry is in the way, move it aside first.
  std::error_code ec;
  fs::rename(tmp, out.dir, ec);
  if (ec && fs::exists(out.dir) && !complete_entry(out.dir, out.key)) {
    const fs::path old = root / (out.key.substr(0, 32) + ".old-" + unique_suffix());
    std::error_code ec2;
    fs::rename(out.dir, old, ec2);
    fs::remove_all(old, ec2);
    fs::rename(tmp, out.dir, ec);
  }
  if (ec) {
    if (auto theirs = complete_entry(out.dir, out.key)) {
      out.spec = std::move(*theirs);
      say(fmt::format("staged {} ({} training, {} test samples; another job staged it too)", spec.name,
                      out.spec.train_samples, out.spec.test_samples));
      return out;
    }
    throw std::runtime_error(fmt::format("cannot move the staged task {} to {}: {}", tmp.string(),
                                         out.dir.string(), ec.message()));
  }
  cleanup.p.clear();
  out.spec = std::move(spec);
  say(fmt::format("staged {} ({} training, {} test samples) in {}", out.spec.name, out.spec.train_samples,
                  out.spec.test_samples, out.dir.string()));
  return out;
}

}  // namespace torchexam
