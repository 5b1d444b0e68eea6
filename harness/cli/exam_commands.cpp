#include "cli/exam_commands.hpp"

#include "base/paths.hpp"
#include "cli/progress.hpp"
#include "client/client.hpp"
#include "config/config.hpp"
#include "protocol/messages.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <thread>

namespace torchexam::cli {
namespace json = boost::json;
namespace fs = std::filesystem;
namespace method = protocol::method;

namespace {

std::string text(const json::value& v, const char* key) {
  const auto* o = v.if_object();
  if (!o) return {};
  auto it = o->find(key);
  return it != o->end() && it->value().is_string() ? std::string(it->value().get_string()) : std::string();
}

double number(const json::value& v, const char* key, double fallback = 0) {
  const auto* o = v.if_object();
  if (!o) return fallback;
  auto it = o->find(key);
  if (it == o->end()) return fallback;
  if (it->value().is_double()) return it->value().get_double();
  if (it->value().is_int64()) return static_cast<double>(it->value().get_int64());
  return fallback;
}

const json::array& array(const json::value& v, const char* key) {
  static const json::array empty;
  const auto* o = v.if_object();
  if (!o) return empty;
  auto it = o->find(key);
  return it != o->end() && it->value().is_array() ? it->value().get_array() : empty;
}

void print_json(const json::value& v) { std::cout << json::serialize(v) << std::endl; }

// `word` as one shell word: as it is when it needs no quotes, else in '...'.
std::string shell_word(const std::string& word) {
  const bool plain = !word.empty() && word.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                             "0123456789_./+-:@%,=") == std::string::npos;
  if (plain) return word;
  std::string out = "'";
  for (char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// How a hint names this program so that it can be typed as printed:
// "torchexam" when that name on PATH is this executable, else its full path.
std::string self_command() {
  const fs::path self = fs::read_symlink("/proc/self/exe");
  const char* path = std::getenv("PATH");
  std::string list = path ? path : "";
  for (size_t start = 0; start <= list.size();) {
    size_t colon = list.find(':', start);
    if (colon == std::string::npos) colon = list.size();
    const fs::path candidate = fs::path(list.substr(start, colon - start)) / "torchexam";
    std::error_code ec;
    if (colon > start && ::access(candidate.c_str(), X_OK) == 0)
      return fs::equivalent(candidate, self, ec) ? "torchexam" : shell_word(self.string());
    start = colon + 1;
  }
  return shell_word(self.string());
}

void print_status(const json::value& st) {
  constexpr size_t kShown = 5;  // diagnostics per task; --json has them all
  fmt::print("session {} ({}, {}) in {}\n", text(st, "session"), text(st, "mode"), text(st, "state"),
             text(st, "workspace"));
  fmt::print("time left: {}\n", format_duration(number(st, "remaining_s")));
  fmt::print("{:<22} {:>5} {:>14} {:>11}  {}\n", "task", "best", "last verdict", "submissions", "diagnostics");
  for (const auto& t : array(st, "tasks")) {
    size_t errors = 0, warnings = 0;
    for (const auto& d : array(t, "diagnostics")) {
      const std::string severity = text(d, "severity");
      errors += severity.find("error") != std::string::npos;
      warnings += severity == "warning";
    }
    const int submissions = static_cast<int>(number(t, "submissions"));
    std::string summary = errors ? fmt::format("{} error(s)", errors) : "";
    if (warnings) summary += fmt::format("{}{} warning(s)", summary.empty() ? "" : ", ", warnings);
    fmt::print("{:<22} {:>5} {:>14} {:>11}  {}\n", text(t, "id"),
               submissions ? fmt::format("{}/5", static_cast<int>(number(t, "best_score"))) : "-",
               text(t, "last_verdict").empty() ? "-" : text(t, "last_verdict"), submissions,
               summary.empty() ? "-" : summary);
    const auto& diagnostics = array(t, "diagnostics");
    for (size_t i = 0; i < diagnostics.size() && i < kShown; ++i) {
      const auto& d = diagnostics[i];
      if (number(d, "line") > 0)
        fmt::print("    {}:{}:{}: {}: {}\n", text(d, "file"), static_cast<int>(number(d, "line")),
                   static_cast<int>(number(d, "column")), text(d, "severity"), text(d, "message"));
      else
        fmt::print("    {}: {}: {}\n", text(d, "file"), text(d, "severity"), text(d, "message"));
    }
    if (diagnostics.size() > kShown)
      fmt::print("    and {} more (torchexam status --json lists them all)\n", diagnostics.size() - kShown);
  }
  for (const auto& q : array(st, "queue"))
    fmt::print("queue: submission {} ({}) {}\n", static_cast<long long>(number(q, "submission")), text(q, "task"),
               text(q, "state") == "running" ? "running" : fmt::format("waiting, position {}", number(q, "position")));
  fmt::print("total {}/{}; pass mark {}: {}\n", static_cast<int>(number(st, "total_score")),
             5 * array(st, "tasks").size(), static_cast<int>(number(st, "pass_mark")),
             st.as_object().at("passed").as_bool() ? "passing" : "not yet passing");
}

void print_submission(const json::value& s) {
  const json::value& result = s.as_object().contains("result") ? s.at("result") : json::value(nullptr);
  for (const auto& d : array(result, "diagnostics")) {
    if (number(d, "line") > 0)
      fmt::print("{}:{}:{}: {}: {}\n", text(d, "file"), static_cast<int>(number(d, "line")),
                 static_cast<int>(number(d, "column")), text(d, "severity"), text(d, "message"));
  }
  fmt::print("submission {} ({}): {}\n", static_cast<long long>(number(s, "submission")), text(s, "task"),
             text(s, "state"));
  if (!text(s, "verdict").empty()) fmt::print("verdict: {}\n", text(s, "verdict"));
  fmt::print("message: {}\n", text(s, "message"));
  if (!text(s, "detail").empty()) fmt::print("detail:  {}\n", text(s, "detail"));
  fmt::print("score:   {}/5\n", static_cast<int>(number(s, "score")));
}

events::Progress progress_of(const json::value& n) {
  events::Progress p;
  p.kind = text(n, "kind") == "epoch" ? events::Progress::Kind::epoch : events::Progress::Kind::batch;
  p.epoch = static_cast<int>(number(n, "epoch"));
  p.epochs = static_cast<int>(number(n, "epochs"));
  p.batch = static_cast<long long>(number(n, "batch"));
  p.batches = static_cast<long long>(number(n, "batches"));
  p.loss = number(n, "loss", std::nan(""));
  p.samples_per_s = number(n, "samples_per_s");
  p.eta_s = number(n, "eta_s", -1);
  p.budget_left_s = number(n, "budget_left_s");
  p.elapsed_s = number(n, "elapsed_s");
  if (const auto* m = n.as_object().if_contains("metrics"); m && m->is_object())
    for (const auto& [k, v] : m->get_object())
      if (v.is_double()) p.metrics[std::string(k)] = v.get_double();
  return p;
}

// What Ctrl-C prints while a grading is followed: the grading goes on in the
// daemon, and this is how to follow it again. Written by a signal handler,
// so prepared beforehand.
char g_interrupt_text[256];
size_t g_interrupt_len = 0;

void on_interrupt(int) {
  ssize_t n = ::write(STDERR_FILENO, g_interrupt_text, g_interrupt_len);
  (void)n;
  ::_exit(130);
}

// Streams the progress of submission `id` until it finishes, then prints the
// result. Ctrl-C stops following (exit 130), never the grading.
void follow_submission(Client& client, int64_t id, bool as_json) {
  std::snprintf(g_interrupt_text, sizeof g_interrupt_text,
                "%storchexam: stopped following; submission %lld is still being graded by torchexamd.\n"
                "follow it again with: torchexam follow %lld\n",
                ::isatty(STDERR_FILENO) ? "\r\033[K" : "\n", static_cast<long long>(id), static_cast<long long>(id));
  g_interrupt_len = std::strlen(g_interrupt_text);
  struct sigaction sa {}, before {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &before);

  auto unfinished = [&] {
    auto s = client.call(method::submission_get, json::object{{"submission", id}});
    const std::string state = text(s, "state");
    return state == "queued" || state == "running";
  };
  {
    ProgressLine line;
    std::string last_stage;
    for (bool waiting = unfinished(); waiting;) {
      auto n = client.next_notification(std::chrono::seconds(5));
      if (!n) {
        waiting = unfinished();  // nothing for a while: make sure it has not finished unseen
        continue;
      }
      if (static_cast<int64_t>(number(n->params, "submission", -1)) != id) continue;
      if (n->method == method::submission_finished) break;
      if (n->method != method::submission_progress) continue;
      const std::string stage = text(n->params, "stage");
      if (stage != last_stage) {
        line.stage(stage == "queued" ? fmt::format("queued, position {}", number(n->params, "queue_position"))
                                     : stage);
        last_stage = stage;
      }
      if (n->params.as_object().contains("epoch")) line.progress(progress_of(n->params));
    }
  }
  sigaction(SIGINT, &before, nullptr);
  auto s = client.call(method::submission_get, json::object{{"submission", id}});
  if (as_json) print_json(s);
  else print_submission(s);
}

}  // namespace

ExamCommands::ExamCommands(CLI::App& app) {
  // --session only where a command acts on a session.
  auto common = [this](CLI::App* c, bool session = true) {
    c->add_flag("--json", o_.json, "print the daemon's answer as JSON");
    if (session)
      c->add_option("--session", o_.session, "exam session id (default: the one open here, or the only one)");
    c->add_option("--socket", o_.socket,
                  "torchexamd's socket (default: $TORCHEXAM_SOCKET, else $XDG_RUNTIME_DIR/torchexam/daemon.sock, "
                  "else <state dir>/run/daemon.sock)");
    return c;
  };
  start_ = common(app.add_subcommand("start", "start an exam session: lay out the workspace, start the clock"), false);
  start_->add_option("ENV_DIR", o_.environment, "exam environment folder, or the name of an installed one")->required();
  start_->add_option("--workspace", o_.workspace, "folder to lay the tasks out in")->required();
  start_->add_option("--mode", o_.mode, "practice (may pause) or exam")
      ->check(CLI::IsMember({"practice", "exam"}))
      ->capture_default_str();
  start_->add_option("--duration", o_.duration,
                     "practice only: instead of the environment's duration, as in environment.yaml (90m, 5h, 1h30m)")
      ->check([](const std::string& text) -> std::string {
        try {
          return config::parse_duration(text) > 0 ? "" : "the duration must be positive";
        } catch (const std::exception& e) {
          return e.what();
        }
      });
  start_->add_flag("--overwrite", o_.overwrite, "use a non-empty workspace (its files are moved aside, not lost)");

  status_ = common(app.add_subcommand("status", "time left, best score and last verdict per task, the queue"));
  submit_ = common(app.add_subcommand("submit", "grade a task's current solution"));
  submit_->add_option("TASK", o_.task, "task id")->required();
  submit_->add_flag("--wait", o_.wait, "follow the grading live and print the result");
  submit_->add_option("--file", o_.file, "the file to submit (solution.cpp, or a TorchScript model.pt)");
  follow_ = common(app.add_subcommand(
      "follow", "stream the live progress of a grading (by default the one running now) and print its result"));
  follow_->add_option("SUBMISSION", o_.submission, "submission id (default: the running or next queued one)");
  history_ = common(app.add_subcommand("history", "every submission of a task, with verdict and score"));
  history_->add_option("TASK", o_.task, "task id")->required();
  restore_ = common(app.add_subcommand("restore", "put a submission's source back (the current one is kept)"));
  restore_->add_option("TASK", o_.task, "task id")->required();
  restore_->add_option("SUBMISSION", o_.submission, "submission id (see history)")->required();
  stop_ = common(app.add_subcommand("stop", "end the exam session"));
  pause_ = common(app.add_subcommand("pause", "pause a practice session's clock"));
  resume_ = common(app.add_subcommand("resume", "resume a paused practice session"));
  daemon_ = common(app.add_subcommand("daemon", "start, stop or query torchexamd"), false);
  daemon_->add_option("ACTION", o_.daemon_action, "start, stop or status")
      ->required()
      ->check(CLI::IsMember({"start", "stop", "status"}));
}

std::optional<int> ExamCommands::run() {
  CLI::App* cmds[] = {start_, status_, submit_, follow_, history_, restore_, stop_, pause_, resume_, daemon_};
  CLI::App* cmd = nullptr;
  for (auto* c : cmds)
    if (c->parsed()) cmd = c;
  if (!cmd) return std::nullopt;

  const fs::path socket = o_.socket.empty() ? paths::socket_path() : fs::path(o_.socket);
  const bool autostart = !(cmd == daemon_ && o_.daemon_action != "start");
  std::unique_ptr<Client> client;
  try {
    const fs::path daemon_exe = paths::executable_dir() / "torchexamd";
    client = connect_or_start(socket, daemon_exe, paths::state_dir() / "daemon.log", autostart);
  } catch (const ConnectError& e) {
    if (cmd == daemon_ && o_.daemon_action == "status") {
      if (o_.json) print_json(json::object{{"running", false}, {"socket", socket.string()}});
      else fmt::print("torchexamd is not running (socket {})\n", socket.string());
      return 1;
    }
    if (cmd == daemon_ && o_.daemon_action == "stop") {
      fmt::print(stderr, "torchexamd is not running\n");
      return 0;
    }
    fmt::print(stderr, "torchexam: {}\n", e.what());
    return 3;
  }

  json::object where{{"workspace", fs::current_path().string()}};
  if (!o_.session.empty()) where = {{"session", o_.session}};
  try {
    if (cmd == start_) {
      fs::path environment;
      try {
        environment = paths::environment_dir(o_.environment);
      } catch (const std::runtime_error& e) {
        fmt::print(stderr, "torchexam: {}\n", e.what());
        return 2;
      }
      json::object p{{"environment", fs::absolute(environment).string()},
                     {"workspace", fs::absolute(o_.workspace).string()},
                     {"mode", o_.mode},
                     {"overwrite", o_.overwrite}};
      if (!o_.duration.empty()) p["duration_s"] = config::parse_duration(o_.duration);
      auto st = client->call(method::exam_start, p);
      if (o_.json) print_json(st);
      else {
        fmt::print("started {} session {}: {} left\n", text(st, "mode"), text(st, "session"),
                   format_duration(number(st, "remaining_s")));
        for (const auto& t : array(st, "tasks"))
          fmt::print("  {:<22} {}  ({})\n", text(t, "id"), text(t, "title"), text(t, "folder"));
        for (const auto& c : array(st, "checks"))  // practice mode starts despite these
          fmt::print(stderr, "{}: {}: {}; expected {}; fix: {}\n", text(c, "status") == "fail" ? "warning" : "note",
                     text(c, "name"), text(c, "found"), text(c, "expected"), text(c, "fix"));
        // Submitting finds the session by the folder it runs in (or the only open one).
        fmt::print("edit each task's solution.cpp, then submit it from the workspace:\n  cd {} && {} submit TASK --wait\n",
                   shell_word(text(st, "workspace").empty() ? fs::absolute(o_.workspace).string() : text(st, "workspace")),
                   self_command());
      }
    } else if (cmd == status_ || cmd == stop_ || cmd == pause_ || cmd == resume_) {
      const char* m = cmd == status_ ? method::exam_status
                      : cmd == stop_ ? method::exam_stop
                      : cmd == pause_ ? method::exam_pause
                                      : method::exam_resume;
      auto st = client->call(m, where);
      if (o_.json) print_json(st);
      else print_status(st);
    } else if (cmd == submit_) {
      json::object p = where;
      p["task"] = o_.task;
      p["file"] = o_.file;
      auto r = client->call(method::task_submit, p);
      const int64_t id = r.at("submission").as_int64();
      if (!o_.wait) {
        if (o_.json) print_json(r);
        else if (const int pos = static_cast<int>(number(r, "queue_position")); pos == 0)
          fmt::print("submission {} is being graded; follow it with: torchexam follow {}\n", id, id);
        else fmt::print("submission {} queued (position {}); follow it with: torchexam follow {}\n", id, pos, id);
        return 0;
      }
      follow_submission(*client, id, o_.json);
    } else if (cmd == follow_) {
      int64_t id = o_.submission;
      if (id == 0) {  // the running submission of this session, else the next queued one
        auto st = client->call(method::exam_status, where);
        for (const auto& q : array(st, "queue"))
          if (id == 0 || text(q, "state") == "running") id = static_cast<int64_t>(number(q, "submission"));
        if (id == 0) {
          fmt::print(stderr, "torchexam: nothing is being graded in session {}; past results: torchexam history TASK\n",
                     text(st, "session"));
          return 1;
        }
      }
      follow_submission(*client, id, o_.json);
    } else if (cmd == history_) {
      json::object p = where;
      p["task"] = o_.task;
      auto r = client->call(method::submission_list, p);
      if (o_.json) print_json(r);
      else {
        fmt::print("{:>6} {:>11} {:>15} {:>6} {:>9}  {}\n", "id", "state", "verdict", "score", "metric", "message");
        for (const auto& s : array(r, "submissions")) {
          const auto& metric = s.at("metric");
          fmt::print("{:>6} {:>11} {:>15} {:>4}/5 {:>9}  {}\n", static_cast<long long>(number(s, "submission")),
                     text(s, "state"), text(s, "verdict").empty() ? "-" : text(s, "verdict"),
                     static_cast<int>(number(s, "score")),
                     metric.is_double() ? fmt::format("{:.4f}", metric.get_double()) : std::string("-"),
                     text(s, "message"));
        }
      }
    } else if (cmd == restore_) {
      auto s = client->call(method::submission_get, json::object{{"submission", o_.submission}});
      if (text(s, "task") != o_.task)
        throw protocol::RpcError(protocol::error_code::invalid_params,
                                 fmt::format("submission {} is of task {}, not {}", o_.submission, text(s, "task"),
                                             o_.task));
      auto r = client->call(method::submission_restore, json::object{{"submission", o_.submission}});
      if (o_.json) print_json(r);
      else {
        fmt::print("restored submission {} into {}\n", o_.submission, text(r, "file"));
        if (!text(r, "previous_copy").empty())
          fmt::print("the source it replaced is kept in {} (and in the store as {})\n", text(r, "previous_copy"),
                     text(r, "previous_hash").substr(0, 12));
        else
          fmt::print("no backup was needed: the file held no other source\n");
      }
    } else if (cmd == daemon_) {
      if (o_.daemon_action == "stop") {
        auto info = client->call(method::daemon_info, json::object{});
        client->call(method::daemon_shutdown, json::object{});
        if (o_.json) print_json(info);
        else fmt::print("torchexamd {} stopped\n", static_cast<long long>(number(info, "pid")));
      } else {
        auto info = client->call(method::daemon_info, json::object{});
        if (o_.json) print_json(info);
        else fmt::print("torchexamd {} running on {} (state in {}, {} session(s))\n",
                        static_cast<long long>(number(info, "pid")), text(info, "socket"), text(info, "state_dir"),
                        static_cast<long long>(number(info, "sessions")));
      }
    }
    return 0;
  } catch (const protocol::RpcError& e) {
    if (o_.json) print_json(json::object{{"error", json::object{{"code", e.code}, {"message", e.what()}}}});
    fmt::print(stderr, "torchexam: {}\n", e.what());
    // An environment with errors is a configuration error, as in `grade` and `doctor`.
    return e.code == protocol::error_code::environment_error ? 2 : 1;
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam: {}\n", e.what());
    return 3;
  }
}

}  // namespace torchexam::cli
