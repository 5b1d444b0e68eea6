#include "cli/exam_commands.hpp"

#include "base/paths.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/progress.hpp"
#include "client/client.hpp"
#include "config/config.hpp"
#include "base/hash.hpp"
#include "protocol/messages.hpp"
#include "protocol/server_messages.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

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

void print_json(const json::value& v) { std::cout << json::serialize(v) << std::endl; }
template <class T>
void print_json(const T& x) {
  print_json(json::value_from(x));
}

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

// A compiler diagnostic as one line: "file:line:col: severity: message".
std::string diagnostic_line(const Diagnostic& d) {
  if (d.line > 0) return fmt::format("{}:{}:{}: {}: {}", d.file, d.line, d.column, d.severity, d.message);
  return fmt::format("{}: {}: {}", d.file, d.severity, d.message);
}

void print_status(const protocol::ExamStatus& st) {
  constexpr size_t kShown = 5;  // diagnostics per task; --json has them all
  fmt::print("session {} ({}, {}) in {}\n", st.session, st.mode, to_string(st.state), st.workspace);
  fmt::print("time left: {}\n", format_duration(st.remaining_s));
  fmt::print("{:<22} {:>5} {:>14} {:>11}  {}\n", "task", "best", "last verdict", "submissions", "diagnostics");
  for (const auto& t : st.tasks) {
    size_t errors = 0, warnings = 0;
    for (const auto& d : t.diagnostics) {
      errors += d.severity.find("error") != std::string::npos;
      warnings += d.severity == "warning";
    }
    std::string summary = errors ? fmt::format("{} error(s)", errors) : "";
    if (warnings) summary += fmt::format("{}{} warning(s)", summary.empty() ? "" : ", ", warnings);
    fmt::print("{:<22} {:>5} {:>14} {:>11}  {}\n", t.id, t.submissions ? fmt::format("{}/5", t.best_score) : "-",
               t.last_verdict.empty() ? "-" : t.last_verdict, t.submissions, summary.empty() ? "-" : summary);
    for (size_t i = 0; i < t.diagnostics.size() && i < kShown; ++i)
      fmt::print("    {}\n", diagnostic_line(t.diagnostics[i]));
    if (t.diagnostics.size() > kShown)
      fmt::print("    and {} more (torchexam status --json lists them all)\n", t.diagnostics.size() - kShown);
  }
  for (const auto& q : st.queue)
    fmt::print("queue: submission {} ({}) {}\n", q.submission, q.task,
               q.state == SubmissionState::running ? "running" : fmt::format("waiting, position {}", q.position));
  fmt::print("total {}/{}; pass mark {}: {}\n", st.total_score, 5 * st.tasks.size(), st.pass_mark,
             st.passed ? "passing" : "not yet passing");
}

void print_submission(const protocol::Submission& s) {
  if (s.result)
    for (const auto& d : s.result->grade.diagnostics)
      if (d.line > 0) fmt::print("{}\n", diagnostic_line(d));
  fmt::print("submission {} ({}): {}\n", s.submission, s.task, to_string(s.state));
  if (s.verdict) fmt::print("verdict: {}\n", *s.verdict);
  fmt::print("message: {}\n", s.message);
  if (!s.detail.empty()) fmt::print("detail:  {}\n", s.detail);
  fmt::print("score:   {}/5\n", s.score);
}

// What Ctrl-C prints while a grading is followed: the grading goes on in the
// daemon, and this is how to follow it again. Written by a signal handler,
// so prepared beforehand.
char g_interrupt_text[1024];
size_t g_interrupt_len = 0;

void on_interrupt(int) {
  ssize_t n = ::write(STDERR_FILENO, g_interrupt_text, g_interrupt_len);
  (void)n;
  ::_exit(130);
}

// Shows the progress of submission `id` on `line` until it has finished.
// `last_stage`: the stage shown last (as an int; -1: none yet).
void watch_submission(Client& client, int64_t id, ProgressLine& line, int& last_stage) {
  const protocol::SubmissionParams which{id};
  auto unfinished = [&] {
    const SubmissionState state = client.call(protocol::rpc::submission_get, which).state;
    return state == SubmissionState::queued || state == SubmissionState::running;
  };
  for (bool waiting = unfinished(); waiting;) {
    auto n = client.next_notification(std::chrono::seconds(5));
    if (!n) {
      waiting = unfinished();  // nothing for a while: make sure it has not finished unseen
      continue;
    }
    if (n->method == method::submission_finished) {
      if (protocol::read_note(protocol::rpc::submission_finished, n->params).submission == id) break;
      continue;
    }
    if (n->method != method::submission_progress) continue;
    const auto note = protocol::read_note(protocol::rpc::submission_progress, n->params);
    if (note.submission != id) continue;
    if (static_cast<int>(note.stage) != last_stage) {
      line.stage(note.stage == Stage::queued ? fmt::format("queued, position {}", note.queue_position)
                                             : std::string(to_string(note.stage)));
      last_stage = static_cast<int>(note.stage);
    }
    if (note.progress) line.progress(*note.progress);
  }
}

// A new connection to the proctored server after `lost`, said on `line`:
// reconnect_tls's back-off, a line every half minute while it fails, and a
// ConnectError saying how to follow again when it gives up.
std::unique_ptr<Client> reconnect(const RemoteOptions& server, int64_t id, const std::string& lost,
                                  ProgressLine& line) {
  const std::string where = fmt::format("{}:{}", server.host, server.port);
  line.log(fmt::format("torchexam: lost the connection to the server {} ({}); reconnecting...", where, lost));
  const auto began = std::chrono::steady_clock::now();
  auto said = began;
  try {
    auto client = reconnect_tls(server, [&](const std::string& error) {
      const auto now = std::chrono::steady_clock::now();
      if (now - said < std::chrono::seconds(30)) return;
      said = now;
      line.log(fmt::format("torchexam: still reconnecting to {} ({} s so far): {}", where,
                           std::chrono::duration_cast<std::chrono::seconds>(now - began).count(), error));
    });
    line.log(fmt::format("torchexam: reconnected to {}; following submission {} again", where, id));
    return client;
  } catch (const ConnectError& e) {
    throw ConnectError(fmt::format(
        "gave up reconnecting to the server {} after {} s ({}). The server keeps grading submission {}: follow it "
        "again with: torchexam --server {} --ca-file CA --token-file TOKEN follow {}",
        where, std::chrono::duration_cast<std::chrono::seconds>(server.reconnect_for).count(), e.what(), id, where,
        id));
  }
}

// Streams the progress of submission `id` until it finishes, then prints the
// result. Ctrl-C stops following (exit 130), never the grading. Against the
// proctored server a lost connection is made again (reconnect above),
// logged in again, and the same submission followed from where it is.
void follow_submission(std::unique_ptr<Client>& client, int64_t id, bool as_json) {
  const RemoteOptions* remote = remote_server();
  const std::string again = remote ? fmt::format("torchexam --server {}:{} --ca-file CA --token-file TOKEN follow {}",
                                                 remote->host, remote->port, id)
                                   : fmt::format("torchexam follow {}", id);
  std::snprintf(g_interrupt_text, sizeof g_interrupt_text,
                "%storchexam: stopped following; submission %lld is still being graded by %s.\n"
                "follow it again with: %s\n",
                ::isatty(STDERR_FILENO) ? "\r\033[K" : "\n", static_cast<long long>(id),
                remote ? "the server" : "torchexamd", again.c_str());
  g_interrupt_len = std::strlen(g_interrupt_text);
  struct sigaction sa {}, before {};
  sa.sa_handler = on_interrupt;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &before);

  std::optional<protocol::Submission> done;
  {
    ProgressLine line;
    int last_stage = -1;
    while (!done) {
      try {
        watch_submission(*client, id, line, last_stage);
        done = client->call(protocol::rpc::submission_get, protocol::SubmissionParams{id});
      } catch (const ConnectionLost& e) {
        const RemoteOptions* server = remote_server();
        if (!server) throw;
        client = reconnect(*server, id, e.what(), line);
        last_stage = -1;
      }
    }
  }
  sigaction(SIGINT, &before, nullptr);
  if (as_json) print_json(*done);
  else print_submission(*done);
}

}  // namespace

ExamCommands::ExamCommands(CLI::App& app) {
  // --session only where a command acts on a session.
  auto common = [this](CLI::App* c, bool session = true) {
    c->add_flag("--json", o_.json, "print the daemon's answer as JSON");
    if (session) {
      auto* id = c->add_option("--session", o_.session, "exam session id (default: the one open here, or the only one)");
      c->add_option("--candidate", o_.candidate,
                    "the session of this candidate (an examiner's alternative to --session over --server)")
          ->excludes(id);
    }
    c->add_option("--socket", o_.socket,
                  "torchexamd's socket (default: $TORCHEXAM_SOCKET, else $XDG_RUNTIME_DIR/torchexam/daemon.sock, "
                  "else <state dir>/run/daemon.sock)");
    return c;
  };
  start_ = common(app.add_subcommand("start", "start an exam session: lay out the workspace, start the clock"), false);
  start_->add_option("ENV_DIR", o_.environment, "exam environment folder, or the name of an installed one")->required();
  start_->add_option("--workspace", o_.workspace,
                     "folder to lay the tasks out in (required; with --server the server chooses it)");
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
  sessions_ = common(app.add_subcommand("sessions", "list every session with its state and time left (an examiner's "
                                                     "command over --server)"),
                     false);
  extend_ = common(app.add_subcommand("extend", "give a session more time (an examiner's command over --server)"));
  extend_->add_option("DURATION", o_.duration, "how much more time, as in environment.yaml (10m, 1h)")
      ->required()
      ->check([](const std::string& text) -> std::string {
        try {
          return config::parse_duration(text) > 0 ? "" : "the duration must be positive";
        } catch (const std::exception& e) {
          return e.what();
        }
      });
  daemon_ = common(app.add_subcommand("daemon", "start, stop or query torchexamd"), false);
  daemon_->add_option("ACTION", o_.daemon_action, "start, stop or status")
      ->required()
      ->check(CLI::IsMember({"start", "stop", "status"}));
}

std::optional<int> ExamCommands::run() {
  CLI::App* cmds[] = {start_, status_,   submit_,   follow_, history_, restore_,
                      stop_,  pause_,    resume_,   sessions_, extend_, daemon_};
  CLI::App* cmd = nullptr;
  for (auto* c : cmds)
    if (c->parsed()) cmd = c;
  if (!cmd) return std::nullopt;

  const bool remote = remote_server() != nullptr;
  if (remote && cmd == daemon_) {
    fmt::print(stderr, "torchexam: `daemon {}` acts on this machine's daemon; leave --server out\n", o_.daemon_action);
    return 2;
  }
  if (!remote && cmd == start_ && o_.workspace.empty()) {
    fmt::print(stderr, "torchexam: start needs --workspace DIR (the folder to lay the tasks out in)\n");
    return 2;
  }
  const fs::path socket = o_.socket.empty() ? paths::socket_path() : fs::path(o_.socket);
  const bool autostart = !(cmd == daemon_ && o_.daemon_action != "start");
  std::unique_ptr<Client> client;
  if (remote && !(client = connect_daemon(o_.socket))) return 3;
  if (!remote) try {
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

  // The session: --session (or --candidate's), else the one whose workspace holds this folder.
  if (!o_.candidate.empty()) try {
      o_.session = session_of_candidate(*client, o_.candidate);
    } catch (...) {
      return daemon_failure(std::current_exception());
    }
  protocol::SessionParams where;
  if (!o_.session.empty()) where.session = o_.session;
  else where.workspace = fs::current_path().string();
  namespace rpc = protocol::rpc;
  try {
    if (cmd == start_ && remote) {
      // The server lays the workspace out on its side and picks the mode
      // and duration; the environment is named, not a folder here.
      const auto st = client->call(rpc::exam_start, protocol::StartParams{o_.environment, "", o_.mode, std::nullopt, false});
      if (o_.json) print_json(st);
      else {
        fmt::print("started {} session {} on the server: {} left\n", st.mode, st.session, format_duration(st.remaining_s));
        for (const auto& t : st.tasks) fmt::print("  {:<22} {}\n", t.id, t.title);
        if (remote_workspace().empty())
          fmt::print("lay the workspace out here with: torchexam join {}:{} --ca-file CA --token-file TOKEN [DIR]\n",
                     remote_server()->host, remote_server()->port);
      }
    } else if (cmd == start_) {
      fs::path environment;
      try {
        environment = paths::environment_dir(o_.environment);
      } catch (const std::runtime_error& e) {
        fmt::print(stderr, "torchexam: {}\n", e.what());
        return 2;
      }
      protocol::StartParams p{fs::absolute(environment).string(), fs::absolute(o_.workspace).string(), o_.mode,
                              std::nullopt, o_.overwrite};
      if (!o_.duration.empty()) p.duration_s = config::parse_duration(o_.duration);
      const auto st = client->call(rpc::exam_start, p);
      if (o_.json) print_json(st);
      else {
        fmt::print("started {} session {}: {} left\n", st.mode, st.session, format_duration(st.remaining_s));
        for (const auto& t : st.tasks) fmt::print("  {:<22} {}  ({})\n", t.id, t.title, t.folder.string());
        for (const auto& c : st.checks)  // practice mode starts despite these
          fmt::print(stderr, "{}: {}: {}; expected {}; fix: {}\n",
                     c.status == doctor::Status::fail ? "warning" : "note", c.name, c.found, c.expected, c.fix);
        // Submitting finds the session by the folder it runs in (or the only open one).
        fmt::print("edit each task's solution.cpp, then submit it from the workspace:\n  cd {} && {} submit TASK --wait\n",
                   shell_word(st.workspace.empty() ? fs::absolute(o_.workspace).string() : st.workspace),
                   self_command());
      }
    } else if (cmd == status_ || cmd == stop_ || cmd == pause_ || cmd == resume_) {
      const auto& m = cmd == status_ ? rpc::exam_status
                      : cmd == stop_ ? rpc::exam_stop
                      : cmd == pause_ ? rpc::exam_pause
                                      : rpc::exam_resume;
      auto st = client->call(m, where);
      if (o_.json) print_json(st);
      else {
        // The candidate's own session from a joined workspace: their folder is this one, not the server's.
        if (remote && !remote_workspace().empty() && o_.session.empty()) st.workspace = remote_workspace().string();
        print_status(st);
      }
    } else if (cmd == sessions_) {
      const auto list = client->call(protocol::rpc::exam_list, protocol::Empty{});
      if (o_.json) print_json(list);
      else if (list.sessions.empty()) fmt::print("no sessions\n");
      else
        for (const auto& st : list.sessions)
          fmt::print("{}  {:<8} {:<8} {:>8} left  score {}/{}  {}\n", st.session, st.mode, to_string(st.state),
                     format_duration(st.remaining_s), st.total_score, 5 * st.tasks.size(), st.workspace);
    } else if (cmd == extend_) {
      if (o_.session.empty()) {
        fmt::print(stderr, "torchexam: extend needs --session ID or --candidate NAME (torchexam sessions lists them)\n");
        return 2;
      }
      const auto st = client->call(protocol::rpc::exam_extend,
                                   protocol::ExtendParams{o_.session, config::parse_duration(o_.duration)});
      if (o_.json) print_json(st);
      else fmt::print("session {}: {} left now\n", st.session, format_duration(st.remaining_s));
    } else if (cmd == submit_ && remote) {
      // The source goes to the server: TASK/FILE from this folder (a
      // workspace's layout), or FILE itself when it names a path.
      // In a joined workspace TASK/FILE is the workspace's, wherever in it this runs.
      const fs::path local = o_.file.find('/') != std::string::npos ? fs::path(o_.file)
                             : remote_workspace().empty()
                                 ? fs::path(o_.task) / o_.file
                                 : (remote_workspace() / o_.task / o_.file).lexically_relative(fs::current_path());
      std::string source;
      try {
        source = read_file(local);
      } catch (const std::exception&) {
        fmt::print(stderr, "torchexam: cannot read {} here; run submit from the folder that holds {}/, or give "
                           "--file PATH\n", local.string(), o_.task);
        return 2;
      }
      // A TorchScript model travels as its bytes (base64, UploadParams); a
      // source as UTF-8 text, which is all a JSON string carries.
      if (protocol::is_model_file(local.filename().string())) {
        if (source.size() > protocol::kMaxModelBytes) {
          fmt::print(stderr, "torchexam: {} is {} bytes, over the server's limit of {} bytes ({} MiB) for a "
                             "TorchScript model; nothing was uploaded\n",
                     local.string(), source.size(), protocol::kMaxModelBytes, protocol::kMaxModelBytes >> 20);
          return 2;
        }
      } else if (!is_valid_utf8(source)) {
        fmt::print(stderr, "torchexam: {} is not UTF-8 text; save it as UTF-8 and submit again (a TorchScript "
                           "model is uploaded as a file whose name ends in .pt or .pth)\n", local.string());
        return 2;
      }
      const auto r = client->call(protocol::rpc::task_upload,
                                  protocol::UploadParams{where.session, "", o_.task, local.filename().string(), source});
      if (o_.json && !o_.wait) print_json(r);
      else if (!o_.json)
        fmt::print("uploaded {} ({} bytes, sha256 {}): submission {}{}\n", local.string(), r.bytes, r.source_sha256,
                   r.submission, r.queue_position > 0 ? fmt::format(" queued (position {})", r.queue_position) : "");
      if (o_.wait) follow_submission(client, r.submission, o_.json);
    } else if (cmd == submit_) {
      const auto r = client->call(rpc::task_submit, protocol::SubmitParams{where.session, where.workspace, o_.task, o_.file});
      const int64_t id = r.submission;
      if (!o_.wait) {
        if (o_.json) print_json(r);
        else if (r.queue_position == 0)
          fmt::print("submission {} is being graded; follow it with: torchexam follow {}\n", id, id);
        else
          fmt::print("submission {} queued (position {}); follow it with: torchexam follow {}\n", id,
                     r.queue_position, id);
        return 0;
      }
      follow_submission(client, id, o_.json);
    } else if (cmd == follow_) {
      int64_t id = o_.submission;
      if (id == 0) {  // the running submission of this session, else the next queued one
        const auto st = client->call(rpc::exam_status, where);
        for (const auto& q : st.queue)
          if (id == 0 || q.state == SubmissionState::running) id = q.submission;
        if (id == 0) {
          fmt::print(stderr, "torchexam: nothing is being graded in session {}; past results: torchexam history TASK\n",
                     st.session);
          return 1;
        }
      }
      follow_submission(client, id, o_.json);
    } else if (cmd == history_) {
      const auto r =
          client->call(rpc::submission_list, protocol::SubmissionListParams{where.session, where.workspace, o_.task});
      if (o_.json) print_json(r);
      else {
        fmt::print("{:>6} {:>11} {:>15} {:>6} {:>9}  {}\n", "id", "state", "verdict", "score", "metric", "message");
        // Under a submission, its gradings that do not count (a regrade
        // keeps them: docs/rejudging.md); under a grading whose fingerprint
        // differs from the one graded before it in more than the source,
        // what changed (fingerprint.hpp). --json has every judging and the
        // fingerprints whole.
        const Fingerprint* previous = nullptr;
        for (const auto& s : r.submissions) {
          fmt::print("{:>6} {:>11} {:>15} {:>4}/5 {:>9}  {}\n", s.submission, to_string(s.state), s.verdict.value_or("-"),
                     s.score, format_metric(s.metric), s.message);
          for (const auto& j : s.judgings)
            if (!j.live)
              fmt::print("{:>6} judging {} ({}, not live): {} {} {}/5\n", "", j.judging,
                         j.rejudge ? fmt::format("regrade set {}", *j.rejudge) : std::string("as submitted"),
                         j.verdict.value_or("-"), format_metric(j.metric), j.score);
          if (!s.fingerprint) continue;
          if (previous) {
            Fingerprint now = *s.fingerprint;
            now.source_sha256 = previous->source_sha256;
            if (auto changed = fingerprint_differences(*previous, now); !changed.empty())
              fmt::print("{:>6} graded differently: {}\n", "", fmt::join(changed, "; "));
          }
          previous = &*s.fingerprint;
        }
      }
    } else if (cmd == restore_) {
      const protocol::SubmissionParams which{o_.submission};
      const auto s = client->call(rpc::submission_get, which);
      if (s.task != o_.task)
        throw protocol::RpcError(protocol::error_code::invalid_params,
                                 fmt::format("submission {} is of task {}, not {}", o_.submission, s.task, o_.task));
      const auto r = client->call(rpc::submission_restore, which);
      if (o_.json) print_json(r);
      else {
        fmt::print("restored submission {} into {}\n", o_.submission, r.file.string());
        if (!r.previous_copy.empty())
          fmt::print("the source it replaced is kept in {} (and in the store as {})\n", r.previous_copy.string(),
                     r.previous_hash.substr(0, 12));
        else
          fmt::print("no backup was needed: the file held no other source\n");
      }
    } else if (cmd == daemon_) {
      const auto info = client->call(rpc::daemon_info, protocol::Empty{});
      if (o_.daemon_action == "stop") {
        client->call(rpc::daemon_shutdown, protocol::Empty{});
        if (o_.json) print_json(info);
        else fmt::print("torchexamd {} stopped\n", info.pid);
      } else {
        if (o_.json) print_json(info);
        else fmt::print("torchexamd {} running on {} (state in {}, {} session(s))\n", info.pid, info.socket,
                        info.state_dir, info.sessions);
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
