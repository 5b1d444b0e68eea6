// torchexam — the command-line client.
//
// ENV_DIR is an environment's folder or, for an installed one, its name
// (`practice`; paths::environment_dir).
//
//   torchexam grade ENV_DIR TASK SOURCE [--json] [--threads N] [--limit N] [--budget S] [--local]
//                   [--option KEY=VALUE]... [--repeat N]
//   torchexam prepare ENV_DIR
//   torchexam doctor [ENV_DIR] [--json] [--no-forecast]   (exit 0 iff every required check passes)
//   torchexam start|status|submit|history|restore|stop|pause|resume|daemon ...
//                   (through the daemon; see exam_commands.hpp)
//   torchexam report [SUBMISSION] [--task T] [-o FILE] [--open] [--json]
//                   (through the daemon; see report_command.hpp)
//   torchexam regrade (--submission N | --task T [--session S] | --environment E) (--rescore | --retrain)
//                   | --show ID | --apply ID | --cancel ID   (through the daemon; see regrade_command.hpp)
//   torchexam new-task DIR --kind K [--data DIR] ...   (new_task_command.hpp)
//   torchexam calibrate ENV_DIR TASK [--seeds N] [--candidate FILE]... [--write] [--local]
//                   (calibrate_command.hpp)
//   torchexam lsp [--socket PATH]   the language server on stdin/stdout (lsp/run.hpp)
//   torchexam --server HOST:PORT --ca-file CA --token-file TOKEN <daemon command> | lsp
//                   (the proctored server over TLS instead of the local daemon; docs/server.md)
//   torchexam join HOST:PORT --ca-file CA --token-file TOKEN [DIR]   (join_command.hpp)
//                   In a joined workspace (a folder with .torchexam/server.json, or one
//                   inside it) the daemon commands and `lsp` talk to that server
//                   without the three flags; `lsp` started elsewhere looks for one
//                   in the folder the editor opens (lsp/run.hpp).
//
// Exit status: 0 when a submission was graded (whatever its score or
// verdict, compile errors included); 2 for a usage or configuration error;
// 3 when the harness itself failed (internal_error).
#include "base/build_config.hpp"
#include "base/hash.hpp"
#include "base/paths.hpp"
#include "cli/calibrate_command.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/exam_commands.hpp"
#include "cli/join_command.hpp"
#include "cli/new_task_command.hpp"
#include "cli/parse_errors.hpp"
#include "cli/progress.hpp"
#include "cli/regrade_command.hpp"
#include "cli/report_command.hpp"
#include "client/workspace_config.hpp"
#include "config/config.hpp"
#include "config/data_sets.hpp"
#include "doctor/doctor.hpp"
#include "exam/report_visibility.hpp"
#include "grading/warm_runner.hpp"
#include "grading/compiler.hpp"
#include "grading/grade_json.hpp"
#include "grading/grader.hpp"
#include "grading/job_dirs.hpp"
#include "grading/repeat.hpp"
#include "lsp/run.hpp"

#include <torchexam/plugin_abi.h>

#include <CLI/CLI.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>

namespace {
using namespace torchexam;
namespace json = boost::json;
namespace fs = std::filesystem;

void print_human(const GradeResult& r) {
  for (const auto& d : r.diagnostics) {
    if (d.line)
      fmt::print("{}:{}:{}: {}: {}\n", d.file, d.line, d.column, d.severity, d.message);
    else
      fmt::print("{}: {}\n", d.severity, d.message);
  }
  fmt::print("verdict: {}\n", to_string(r.verdict));
  fmt::print("message: {}\n", r.message);
  if (!r.detail.empty()) fmt::print("detail:  {}\n", r.detail);
  if (r.metric) fmt::print("{}: {:.4f}\n", r.metric_name, *r.metric);
  fmt::print("score:   {}/5\n", r.score);
  if (const auto& f = r.fingerprint)
    fmt::print("fingerprint: LibTorch {} ({}), BLAS {}, {} thread{}, deterministic {}, seed {}\n",
               f->libtorch.version.empty() ? "?" : f->libtorch.version, f->libtorch.parallel.empty() ? "?" : f->libtorch.parallel,
               f->blas.path.empty() ? "?" : blas_label(f->blas), f->threads, f->threads == 1 ? "" : "s",
               f->deterministic ? "on" : "off", f->seed);
  fmt::print("time:    stage {:.1f}s{}  build {:.1f}s{}  train {:.1f}s  evaluate {:.1f}s  total {:.1f}s\n",
             r.timings.stage_s, r.stage_cached ? " (cached)" : "", r.timings.build_s,
             r.build_cached ? " (cached)" : "", r.timings.train_s, r.timings.evaluate_s, r.timings.total_s);
  for (const auto& o : r.output)
    if (o.bytes > 0) fmt::print("output:  {} ({} bytes printed by your code while {})\n", o.path.string(), o.bytes,
                                o.phase == "train" ? "training" : "evaluating");
  fmt::print("job:     {}{}\n", r.job_dir.string(), r.backend.empty() || r.backend == "local" ? "" : " (graded on " + r.backend + ")");
}

const char* state_name(data_sets::ItemStatus::State s) {
  switch (s) {
    case data_sets::ItemStatus::State::ok: return "ok";
    case data_sets::ItemStatus::State::missing: return "missing";
    case data_sets::ItemStatus::State::mismatch: return "checksum mismatch";
  }
  return "?";
}

// `torchexam data`: install (or only check) every data set of `env`.
int run_data(const config::Environment& env, bool check_only, bool as_json) {
  const auto root = paths::data_dir();
  int failures = 0;
  json::array sets;
  for (const auto& set : env.data) {
    if (!check_only) {
      try {
        data_sets::install(
            set, root, [](const std::string& line) { fmt::print(stderr, "{}\n", line); }, system_launcher());
      } catch (const std::exception& e) {
        fmt::print(stderr, "torchexam: {}\n", e.what());
      }
    }
    const auto status = data_sets::check(set, root);
    json::array items;
    for (const auto& item : status.items) {
      items.push_back({{"path", item.item->path}, {"local", item.local.string()}, {"state", state_name(item.state)},
                       {"expected_sha256", item.item->sha256}, {"actual_sha256", item.actual_sha256}});
      if (!as_json && item.state != data_sets::ItemStatus::State::ok)
        fmt::print(stderr, "{}: {} is {}{}\n", set.name, item.local.string(), state_name(item.state),
                   item.state == data_sets::ItemStatus::State::mismatch
                       ? fmt::format(" (sha256 {}, expected {})", item.actual_sha256, item.item->sha256)
                       : "");
    }
    if (!status.ok()) ++failures;
    sets.push_back({{"name", set.name}, {"source", data_sets::source_text(set)}, {"dir", status.dir.string()},
                    {"ok", status.ok()}, {"items", std::move(items)}});
    if (!as_json) fmt::print("{:<20} {:<45} {}\n", set.name, data_sets::source_text(set), status.ok() ? "ok" : "NOT OK");
  }
  if (as_json) std::cout << json::serialize(json::object{{"data_dir", root.string()}, {"sets", std::move(sets)}}) << std::endl;
  if (failures && !as_json)
    fmt::print(stderr, "{} data set(s) not ready; install them with: torchexam data {}\n", failures, env.dir.string());
  return failures ? 1 : 0;
}

// `torchexam doctor`: every check, then (unless skipped) the forecast.
int run_doctor(const config::Environment& env, bool has_env, bool forecast, double forecast_s, bool as_json) {
  if (!as_json)
    fmt::print("torchexam doctor{}\n", has_env ? ": " + env.dir.string() : " (no environment: machine checks only)");
  std::vector<doctor::CheckResult> checks = doctor::verify(env);
  if (!as_json)
    for (const auto& c : checks) fmt::print("{}\n", doctor::to_line(c));
  std::vector<doctor::Forecast> forecasts;
  if (forecast && has_env && doctor::passed(checks)) {
    if (!as_json)
      fmt::print("training-time forecast (about {:.0f} s of training per task; the exam lasts {}):\n", forecast_s,
                 cli::format_duration(env.duration_s));
    doctor::ForecastOptions fo;
    fo.measure_s = forecast_s;
    fo.cache_dir = paths::cache_dir();
    fo.work_dir = paths::state_dir() / "jobs";
    fo.say = [&](const std::string& line) {
      if (!as_json && isatty(STDERR_FILENO)) fmt::print(stderr, "  {}\r\033[K", line);
    };
    for (const auto& task : env.tasks) {
      forecasts.push_back(doctor::forecast_task(env, task, fo));
      checks.push_back(doctor::check_forecast(forecasts.back()));
      if (!as_json) fmt::print("{}\n", doctor::to_line(checks.back()));
    }
    try {
      doctor::store_forecasts(doctor::forecast_file(paths::state_dir(), env.name), forecasts);
    } catch (const std::exception& e) {
      fmt::print(stderr, "torchexam: could not store the forecast: {}\n", e.what());
    }
  } else if (forecast && has_env && !as_json) {
    fmt::print("forecast skipped: a required check failed\n");
  }
  const bool ok = doctor::passed(checks);
  if (as_json)
    std::cout << json::serialize(json::value_from(doctor::make_report(env, std::move(checks), forecasts))) << std::endl;
  else
    fmt::print("{}\n", ok ? "every required check passed" : "a required check failed: see the fix on its line");
  return ok ? 0 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"torchexam: practical LibTorch exams, graded on hidden data"};
  app.require_subcommand(1);
  app.set_version_flag("--version", fmt::format("torchexam {} (LibTorch {}, task plugin ABI {})",
                                                torchexam::build_config::kVersion,
                                                torchexam::build_config::kTorchVersion, TORCHEXAM_PLUGIN_ABI_VERSION));

  std::string env_dir, task_id, source;
  bool as_json = false;
  int threads = 0;
  long long limit = 0;
  double budget = 0;
  auto* grade_cmd = app.add_subcommand("grade", "build, train, evaluate and score one solution in the foreground");
  grade_cmd->add_option("ENV_DIR", env_dir, "exam environment: its folder (holds environment.yaml) or the name of an installed one")->required();
  grade_cmd->add_option("TASK", task_id, "task id, e.g. fashion_mnist")->required();
  grade_cmd->add_option("SOURCE", source, "solution.cpp, or a TorchScript model (.pt) to evaluate as is")
      ->required()
      ->check(CLI::ExistingFile);
  grade_cmd->add_flag("--json", as_json,
                      "print one JSON object with the result on stdout (task_diagnostics included unless the "
                      "environment's report.diagnostics is metric_only)");
  grade_cmd->add_option("--threads", threads, "LibTorch threads (default: the environment's)")->check(CLI::Range(1, 64));
  grade_cmd->add_option("--limit", limit, "use only the first N training and N test samples (for quick checks)")
      ->check(CLI::PositiveNumber);
  grade_cmd->add_option("--budget", budget, "training budget in seconds (default: the task's)")
      ->check(CLI::PositiveNumber);
  bool local = false;
  grade_cmd->add_flag("--local", local,
                      "run every phase here, even when the environment grades on a cluster (grading.backend)");
  std::vector<std::string> plugin_options;
  grade_cmd->add_option("--option", plugin_options,
                        "task plugin option KEY=VALUE over the task's own (e.g. data_dir=DIR); repeatable");
  std::string warm_runner = "on";
  grade_cmd->add_option("--warm-runner", warm_runner,
                        "fork torchexam-runner from a warm runner with LibTorch loaded (started once, used by both "
                        "phases) instead of starting each phase fresh: on, or off")
      ->envname("TORCHEXAM_WARM_RUNNER")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  int repeat = 1;
  grade_cmd->add_option("--repeat", repeat,
                        "grade the same source N times (the build and the staged data are reused) and report the "
                        "metric's spread, whether the score flips and whether the predictions are identical")
      ->check(CLI::Range(1, 100));

  auto* prepare_cmd = app.add_subcommand("prepare", "build the precompiled LibTorch header for an environment");
  prepare_cmd->add_option("ENV_DIR", env_dir, "exam environment folder or name")->required();

  bool check_only = false;
  auto* data_cmd = app.add_subcommand("data", "install the environment's data sets from package files, verified by sha256");
  data_cmd->add_option("ENV_DIR", env_dir, "exam environment folder or name")->required();
  data_cmd->add_flag("--check", check_only, "only verify what is installed (exit 1 if anything is missing or wrong)");
  data_cmd->add_flag("--json", as_json, "print the status as JSON");

  bool no_forecast = false;
  double forecast_s = 5;
  auto* doctor_cmd =
      app.add_subcommand("doctor", "check this machine against an environment's pins, and forecast training times");
  doctor_cmd->add_option("ENV_DIR", env_dir, "exam environment folder or name (without it: the machine checks only)");
  doctor_cmd->add_flag("--json", as_json, "print one JSON object: {environment, ok, checks, forecasts}");
  doctor_cmd->add_flag("--no-forecast", no_forecast, "skip the training-time forecast (about 5 s per task)");
  doctor_cmd->add_option("--forecast-seconds", forecast_s, "seconds of reference training measured per task")
      ->check(CLI::Range(1.0, 60.0));

  // The proctored server (docs/server.md): the daemon commands talk to it.
  std::string server, token_file, ca_file;
  auto* server_opt = app.add_option("--server", server,
                                    "talk to a proctored TorchExam server at HOST:PORT over TLS instead of the local "
                                    "daemon (start, status, submit, follow, history, restore, stop, report, "
                                    "regrade, sessions, extend)")
                         ->group("Proctored server (docs/server.md)");
  app.add_option("--token-file", token_file, "with --server: the file holding your token (chmod 600)")
      ->needs(server_opt)
      ->group("Proctored server (docs/server.md)");
  app.add_option("--ca-file", ca_file, "with --server: the CA certificate (PEM) the server's certificate must chain to")
      ->needs(server_opt)
      ->group("Proctored server (docs/server.md)");
  double reconnect_for_s = 300;
  app.add_option("--reconnect-for", reconnect_for_s,
                 "with --server: seconds `submit --wait`, `follow` and `lsp` keep reconnecting after the connection drops")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str()
      ->needs(server_opt)
      ->group("Proctored server (docs/server.md)");

  cli::ExamCommands exam_commands(app);
  cli::ReportCommand report_command(app);
  cli::RegradeCommand regrade_command(app);
  cli::NewTaskCommand new_task_command(app);
  cli::CalibrateCommand calibrate_command(app);
  cli::JoinCommand join_command(app);

  std::string lsp_socket;
  auto* lsp_cmd = app.add_subcommand("lsp", "the language server for editors, on stdin/stdout (see docs/editors.md)");
  lsp_cmd->add_option("--socket", lsp_socket, "torchexamd's socket (default: $TORCHEXAM_SOCKET, $XDG_RUNTIME_DIR/torchexam)");
  bool lsp_stdio = false;  // the only transport; the flag exists because editors pass it
  lsp_cmd->add_flag("--stdio", lsp_stdio, "accepted for editors that pass it; stdio is the only transport");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "torchexam: {}\n", cli::explain_parse_error(app, argc, argv, e));
    return 2;
  }
  // Commands that run here, whatever server a workspace names.
  auto runs_here = [&](const std::string& name) {
    for (const char* local_only : {"grade", "prepare", "data", "doctor", "new-task", "calibrate", "join"})
      if (name == local_only) return true;
    return false;
  };
  std::string subcommand;
  for (const auto* sub : app.get_subcommands()) subcommand = sub->get_name();
  fs::path remote_workspace;  // the joined workspace whose config named the server
  if (server.empty() && !runs_here(subcommand) && subcommand != "daemon") {
    try {
      if (auto joined = find_workspace_config(fs::current_path())) {
        server = joined->server;
        ca_file = joined->ca_file.string();
        token_file = joined->token_file.string();
        remote_workspace = joined->root;
      }
    } catch (const std::exception& e) {
      fmt::print(stderr, "torchexam: {}\n", e.what());
      return 2;
    }
  }
  if (!server.empty()) {
    RemoteOptions remote;
    std::string problem = runs_here(subcommand) ? "`" + subcommand + "` runs on this machine; leave --server out"
                                                : remote_options(server, ca_file, token_file, remote);
    if (!problem.empty()) {
      if (!remote_workspace.empty())
        problem += fmt::format(" (from {}, written by torchexam join)", workspace_config_file(remote_workspace).string());
      fmt::print(stderr, "torchexam: {}\n", problem);
      return 2;
    }
    remote.reconnect_for = std::chrono::milliseconds(static_cast<int64_t>(reconnect_for_s * 1000));
    cli::use_server(std::move(remote), remote_workspace);
  }
  if (auto rc = exam_commands.run()) return *rc;
  if (auto rc = report_command.run()) return *rc;
  if (auto rc = regrade_command.run()) return *rc;
  if (auto rc = new_task_command.run()) return *rc;
  if (auto rc = calibrate_command.run()) return *rc;
  if (auto rc = join_command.run()) return *rc;
  if (lsp_cmd->parsed()) {
    lsp::RunOptions o;
    o.socket = lsp_socket.empty() ? paths::socket_path() : std::filesystem::path(lsp_socket);
    o.daemon_exe = paths::executable_dir() / "torchexamd";
    o.daemon_log = paths::state_dir() / "daemon.log";
    o.version = std::string(build_config::kVersion);
    o.reconnect_for = std::chrono::milliseconds(static_cast<int64_t>(reconnect_for_s * 1000));
    if (const RemoteOptions* remote = cli::remote_server()) {
      o.remote = *remote;
      o.remote_workspace = cli::remote_workspace();
    }
    return lsp::run(o);
  }

  config::Environment env;
  if (doctor_cmd->parsed() && env_dir.empty()) return run_doctor(env, false, false, forecast_s, as_json);
  try {
    env = config::load_environment(paths::environment_dir(env_dir));
  } catch (const config::ConfigError& e) {
    fmt::print(stderr, "torchexam: the exam environment has errors:\n{}\n", e.what());
    return 2;
  } catch (const std::runtime_error& e) {  // a name found in no environments folder
    fmt::print(stderr, "torchexam: {}\n", e.what());
    return 2;
  }

  if (data_cmd->parsed()) return run_data(env, check_only, as_json);
  if (doctor_cmd->parsed()) return run_doctor(env, true, !no_forecast, forecast_s, as_json);

  if (prepare_cmd->parsed()) {
    try {
      fmt::print(stderr, "building the precompiled LibTorch header (about 40 s the first time)...\n");
      Compiler c(compiler_options(env, paths::cache_dir()));
      fmt::print(stderr, "ready: {}\n", c.ensure_pch().string());
      return 0;
    } catch (const std::exception& e) {
      fmt::print(stderr, "torchexam: {}\n", e.what());
      return 3;
    }
  }

  const config::TaskConfig* task = env.find_task(task_id);
  if (!task) {
    fmt::print(stderr, "torchexam: {}\n", env.unknown_task(task_id, env_dir));
    return 2;
  }

  GradeRequest req;
  req.environment = &env;
  req.task = task;
  req.source = source;
  req.threads = threads;
  req.budget_s = budget;
  const auto warm = make_runner_launcher(warm_runner == "on", system_launcher(), [](std::string_view line) {
    fmt::print(stderr, "torchexam: warm runner: {}\n", line);
  }, /*log_starts=*/false);
  BackendRegistry backends(warm ? *warm : system_launcher());
  req.backends = &backends;
  if (local) req.backend = &backends.local();
  for (const auto& kv : plugin_options) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0) {
      fmt::print(stderr, "torchexam: --option '{}' must be KEY=VALUE\n", kv);
      return 2;
    }
    req.extra_options[kv.substr(0, eq)] = kv.substr(eq + 1);
  }
  if (limit > 0) req.extra_options["limit"] = std::to_string(limit);

  // A grading outside a session is practice: its task diagnostics are shown
  // unless the environment keeps them back (report_visibility.hpp).
  const bool show_diagnostics = diagnostics_visible(env, SessionMode::practice, false);
  if (repeat > 1) {
    // Each run in a job folder of its own; every run's folder is kept (the
    // pruning below keeps the newest kKeepJobDirs, more than --repeat allows).
    RepeatRuns graded = grade_repeatedly(req, std::vector<std::optional<uint64_t>>(static_cast<size_t>(repeat)),
                                         [&](size_t i) -> std::unique_ptr<GradeObserver> {
                                           if (!as_json) fmt::print(stderr, "run {}/{}\n", i + 1, repeat);
                                           return std::make_unique<cli::ProgressPrinter>();
                                         });
    if (!show_diagnostics)
      for (auto& run : graded.runs) run.task_diagnostics.reset();
    prune_job_dirs(paths::state_dir() / "jobs", std::max<size_t>(kKeepJobDirs, repeat), is_grade_job_dir);
    const RepeatSummary summary = summarize_repeats(std::move(graded.runs), std::move(graded.predictions_sha256), env.grading.repeat_score);
    if (as_json) std::cout << json::serialize(json::value_from(summary)) << std::endl;
    else
      for (const auto& line : repeat_lines(summary)) fmt::print("{}\n", line);
    const bool harness_failed = std::any_of(summary.runs.begin(), summary.runs.end(),
                                            [](const GradeResult& x) { return x.verdict == Verdict::internal_error; });
    return harness_failed ? 3 : 0;
  }

  GradeResult r;
  {
    cli::ProgressPrinter progress;
    r = grade(req, progress);
  }
  if (!show_diagnostics) r.task_diagnostics.reset();
  // Older job folders go (job_dirs.hpp); this one is the newest and stays.
  prune_job_dirs(paths::state_dir() / "jobs", kKeepJobDirs, is_grade_job_dir);
  if (as_json)
    std::cout << json::serialize(json::value_from(r)) << std::endl;
  else
    print_human(r);
  return r.verdict == Verdict::internal_error ? 3 : 0;
}
