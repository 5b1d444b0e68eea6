#include "doctor/forecast.hpp"

#include "base/hash.hpp"
#include "base/json_shape.hpp"
#include "base/paths.hpp"
#include "grading/compiler.hpp"
#include "grading/grader.hpp"
#include "grading/runner_launch.hpp"
#include "grading/staging.hpp"
#include "sandbox/proc_stat.hpp"

#include <fmt/format.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <sstream>

namespace torchexam::doctor {
namespace fs = std::filesystem;
namespace json = boost::json;

namespace {

// Loading the plugin's data and the output check come before training: a
// generous allowance on top of the measurement, still well under a minute.
constexpr double kStartAllowance_s = 40;
constexpr double kWarmUp_s = 1;

int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string seconds_text(double s) {
  if (s >= 5400) return fmt::format("{:.1f} h", s / 3600);
  if (s >= 120) return fmt::format("{:.0f} min", s / 60);
  if (s >= 10) return fmt::format("{:.0f} s", s);
  return fmt::format("{:.1f} s", s);
}

struct Steady {
  double samples_per_s;
  double reference_s;
};

// The runner's samples/s averages over the epoch so far, start-of-epoch
// work (shuffling, ctx.batches() copying the split) included, which weighs
// heavily in a few seconds. Two batch events of one epoch give the steady
// time per batch instead: with s = samples per batch, t = seconds into the
// epoch, rate_i = s * batch_i / t_i and t2 - t1 = elapsed2 - elapsed1, so
// s = (elapsed2 - elapsed1) / (batch2 / rate2 - batch1 / rate1). What is
// left: the rest of this epoch and every later one at that pace, plus each
// later epoch's start-up work (t2 - batch2 * per_batch).
std::optional<Steady> steady_forecast(const std::optional<events::Progress>& first, const events::Progress& last) {
  if (!first || first->epoch != last.epoch || last.batch <= first->batch || last.batches <= 0 || last.epochs <= 0)
    return std::nullopt;
  const double dt = last.elapsed_s - first->elapsed_s;
  const double per_batch = dt / static_cast<double>(last.batch - first->batch);
  const double denominator =
      static_cast<double>(last.batch) / last.samples_per_s - static_cast<double>(first->batch) / first->samples_per_s;
  if (!(dt > 0) || !(per_batch > 0) || !(denominator > 0)) return std::nullopt;
  const double samples_per_batch = dt / denominator;
  const double into_epoch = samples_per_batch * static_cast<double>(last.batch) / last.samples_per_s;
  const double epoch_start = std::max(0.0, into_epoch - per_batch * static_cast<double>(last.batch));
  const double later_epochs = std::max(0, last.epochs - last.epoch);
  const double batches_left =
      static_cast<double>(last.batches - last.batch) + static_cast<double>(last.batches) * later_epochs;
  return Steady{samples_per_batch / per_batch, last.elapsed_s + batches_left * per_batch + later_epochs * epoch_start};
}

std::string failure(const RunnerOutcome& out) {
  return fmt::format("training failed ({}): {}", to_string(out.verdict), out.message);
}

}  // namespace

MachineSample sample_machine() {
  MachineSample m;
  std::ifstream load("/proc/loadavg");
  load >> m.load1;
  if (const auto all = sandbox::read_proc_stat().all) {
    m.total = all->total();
    m.steal = all->steal;
  }
  return m;
}

Forecast forecast_task(const config::Environment& env, const config::TaskConfig& task, const ForecastOptions& o) {
  Forecast f;
  f.task = task.id;
  f.budget_s = task.time_budget_s;
  f.exam_s = env.duration_s;
  f.threads = task.threads > 0 ? task.threads : env.threads;
  f.measured_at_ms = now_ms();
  f.cpus = static_cast<int>(std::max(1L, sysconf(_SC_NPROCESSORS_ONLN)));
  const MachineSample before = sample_machine();
  f.load_before = before.load1;
  const auto note_steal = [&] {
    const MachineSample after = sample_machine();
    if (after.total > before.total)
      f.steal = static_cast<double>(after.steal - before.steal) / static_cast<double>(after.total - before.total);
  };
  if (task.reference.empty()) {
    f.error = "the task has no reference solution (reference: in task.yaml)";
    return f;
  }
  const auto say = [&](const std::string& line) {
    if (o.say) o.say(line);
  };
  const fs::path work = o.work_dir / fmt::format("forecast-{}-{}", task.id, getpid());
  std::error_code ec;
  try {
    say(fmt::format("task {}: building the reference", task.id));
    ProcessLauncher& launcher = o.launcher ? *o.launcher : system_launcher();
    LocalBackend here(launcher);
    CompilerOptions co = compiler_options(env, o.cache_dir);
    co.launcher = &launcher;
    Compiler compiler(co);
    const BuildOutput build = compiler.build(task.reference, "reference.cpp");
    if (!build.ok) {
      f.error = "the reference does not build" + std::string(build.timed_out ? " (timed out)" : "") +
                (build.diagnostics.empty() ? "" : ": " + build.diagnostics.front().message);
      return f;
    }
    fs::remove_all(work, ec);
    fs::create_directories(work);
    // The data as the grader stages it (cached: the second forecast is instant).
    const StagedTask staged =
        stage_task({paths::plugin(task.plugin), task_plugin_options(env, task), o.cache_dir, {}}, say);
    // The reference sees the real budget: same epochs, same ETA.
    RunnerJob job = training_job(staged, task, build.library, work, f.threads, task.time_budget_s);
    job.wall_timeout_s = o.measure_s + kStartAllowance_s;
    std::atomic<bool> enough{false};
    job.cancel = &enough;
    std::optional<events::Progress> first, last;  // batch events of the current epoch with a known rate
    say(fmt::format("task {}: training the reference for about {:.0f} s", task.id, o.measure_s));
    const RunnerOutcome out = launch_runner(job, [&](const events::Event& e) {
      const auto* p = std::get_if<events::Progress>(&e);
      if (!p || !(p->samples_per_s > 0) || !std::isfinite(p->elapsed_s)) return;
      if (!last || p->epoch != last->epoch || p->kind == events::Progress::Kind::epoch) first.reset();
      // The first second warms up (allocations, caches): the steady pace is measured after it.
      if (p->kind == events::Progress::Kind::batch && !first && p->elapsed_s >= kWarmUp_s) first = *p;
      last = *p;
      if (p->elapsed_s >= o.measure_s && p->eta_s >= 0) enough = true;
    }, here);
    note_steal();
    fs::remove_all(work, ec);
    if (!last) {
      f.error = out.cancelled ? "no progress was reported" : failure(out);
      return f;
    }
    f.samples_per_s = last->samples_per_s;
    f.measured_s = last->elapsed_s;
    f.finished = !out.cancelled && out.verdict == Verdict::ok;
    f.reference_s = f.finished ? last->elapsed_s : last->elapsed_s + std::max(0.0, last->eta_s);
    if (!f.finished) {
      if (auto steady = steady_forecast(*first, *last)) {
        f.samples_per_s = steady->samples_per_s;
        f.reference_s = steady->reference_s;
      }
    }
    if (!f.finished && !out.cancelled && out.verdict != Verdict::timeout) f.error = failure(out);
  } catch (const std::exception& e) {
    fs::remove_all(work, ec);
    f.error = e.what();
  }
  return f;
}

CheckResult check_forecast(const Forecast& f) {
  CheckResult r;
  r.name = "forecast " + f.task;
  r.expected = "the reference trains within its budget of " + seconds_text(f.budget_s);
  if (!f.error.empty()) {
    const bool no_reference = f.error.rfind("the task has no reference", 0) == 0;
    r.status = no_reference ? Status::warn : Status::fail;
    r.found = f.error;
    r.fix = no_reference ? "add reference: reference.cpp to the task to get a forecast"
                         : "grade the reference to see the whole error: torchexam grade ENV " + f.task +
                               " <task folder>/reference.cpp";
    return r;
  }
  r.found = describe(f).substr(("task " + f.task + ": ").size());  // the check's name says the task
  if (f.reference_s > f.budget_s) {
    r.status = Status::warn;
    r.fix = f.busy() ? "measure again when the machine is idle: torchexam doctor ENV (other work was running, so "
                       "this forecast is pessimistic)"
                     : "this machine is slower than the task was calibrated for: the reference would stop early; "
                       "close other programs, check the blas and cpu lines, or raise time_budget";
  }
  return r;
}

std::string describe(const Forecast& f) {
  if (!f.error.empty()) return fmt::format("task {}: no forecast ({})", f.task, f.error);
  std::string s =
      fmt::format("task {}: {:.0f} samples/s on {} thread(s); reference needs about {} of its {} budget", f.task,
                  f.samples_per_s, f.threads, seconds_text(f.reference_s), seconds_text(f.budget_s));
  if (f.finished) s += " (it finished within the measurement)";
  if (f.reference_s > f.budget_s) s += " (over budget: it would stop early)";
  if (f.busy())
    s += fmt::format("; the machine was busy while measuring (load {:.1f} on {} CPU{}{})", f.load_before, f.cpus,
                     f.cpus == 1 ? "" : "s", f.steal > 0.005 ? fmt::format(", {:.0f}% stolen", 100 * f.steal) : "");
  return s;
}

fs::path forecast_file(const fs::path& state_dir, const std::string& environment) {
  return state_dir / "forecast" / (environment + ".json");
}

void store_forecasts(const fs::path& file, const std::vector<Forecast>& forecasts) {
  fs::create_directories(file.parent_path());
  write_file_atomically(file, json::serialize(json::object{{"forecasts", json::value_from(forecasts)}}) + "\n");
}

std::vector<Forecast> load_forecasts(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return {};
  std::ostringstream text;
  text << in.rdbuf();
  json::error_code ec;
  const json::value v = json::parse(text.str(), ec);
  std::vector<Forecast> out;
  if (ec) return out;
  try {
    for (const auto& item : json_shape::Object(v).optional<std::vector<json::value>>("forecasts")) {
      try {
        out.push_back(json::value_to<Forecast>(item));
      } catch (const json_shape::ShapeError&) {  // one bad entry (an older file's): skipped
      }
    }
  } catch (const json_shape::ShapeError&) {
  }
  return out;
}

}  // namespace torchexam::doctor
