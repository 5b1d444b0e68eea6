// server.hpp — the language server's logic: LSP requests from the editor
// become daemon calls, daemon notifications become LSP notifications.
//
// It meets the outside through two Endpoints (the editor, the daemon), so
// tests can drive it with fakes; the transport lives in run.cpp. Helpers own
// the pieces of state: DiagnosticsBook (published diagnostics),
// ProgressReporter (progress per submission), SessionFinder (which session,
// the last exam status). This class keeps only the client's capabilities.
//
// Against the proctored server (set_remote, a workspace joined with
// `torchexam join`): the session's paths are mapped to the local workspace
// (SessionFinder), "Submit & grade" uploads the editor's file
// (task/upload), and a save sends the saved text for the server's syntax
// check without submitting (task/save; the editor is asked for the text
// with the save notification), whose diagnostics come back as
// workspace/diagnostics, as a local daemon's do.
//
// Against the server a dropped connection is not the end (run.cpp
// reconnects): connection_lost() and reconnected() bracket the time
// without one.
//
// Error policy: a daemon error is passed to the editor as the same JSON-RPC
// error; "no session for this workspace" (with the command that starts one)
// and "no daemon" are also shown once with window/showMessage. Threads: one (the
// io_context's).
#pragma once

#include "lsp/diagnostics_book.hpp"
#include "lsp/lsp_types.hpp"
#include "lsp/progress_reporter.hpp"
#include "lsp/rpc_peer.hpp"
#include "lsp/session_finder.hpp"

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

namespace torchexam::lsp {

inline constexpr const char* kSubmitCommand = "torchexam.submit";
inline constexpr const char* kStatusCommand = "torchexam.status";
inline constexpr const char* kHistoryCommand = "torchexam.history";
inline constexpr const char* kRestoreCommand = "torchexam.restore";
// Writes the HTML report (a task's with a task or file argument, the
// session's without) and asks the editor to show it (window/showDocument;
// external unless the client shows HTML itself). Its result: {"file", "uri"}.
inline constexpr const char* kReportCommand = "torchexam.report";

class LspServer {
 public:
  // `on_exit(code)` is called at the `exit` notification: 0 after shutdown, 1 before.
  LspServer(Endpoint& editor, Endpoint& daemon, std::string version, std::function<void(int)> on_exit);

  // Fills the binders the transports dispatch to.
  void bind_editor(protocol::Binder& b);
  void bind_daemon(protocol::Binder& b);
  // The session lives on a proctored server, laid out here in `local` (empty:
  // the editor's root folder). Call before initialize.
  void set_remote(std::filesystem::path local);
  // The daemon connection could not be made or was lost for good.
  void daemon_unavailable(const std::string& why);
  // Called with the editor's initialize params before they are acted on,
  // so the transport can choose the daemon or a server from the root folder
  // (run.cpp: it may call set_remote then).
  void on_initialize(std::function<void(const InitializeParams&)> f) { on_initialize_ = std::move(f); }

  // Against the proctored server, the connection dropped and the transport
  // is reconnecting (run.cpp): `message` is shown now, every request until
  // reconnected() fails with it (a clear error at once rather than an
  // editor left waiting), and a save made meanwhile is kept to be sent then.
  void connection_lost(const std::string& message);
  // Connected and logged in again: shows `message`, finds the session again
  // (status, countdown, the server's diagnostics, lenses), asks after the
  // gradings it was showing (one may have finished meanwhile: its score is
  // shown as if the note had come) and sends the kept saves.
  void reconnected(const std::string& message);

 private:
  json::value initialize(const json::value& params);
  void initialized();
  // What a status found at the start or after a reconnect shows: the
  // server's diagnostics, the countdown, a log line.
  void session_found(const protocol::ExamStatus& st);
  // A submission whose grading we follow (submitted here or seen in progress).
  void grading(int64_t submission) { gradings_.insert(submission); }

  void code_lens(const json::value& params, protocol::Binder::Reply reply);
  void code_action(const json::value& params, protocol::Binder::Reply reply);
  void execute_command(const json::value& params, protocol::Binder::Reply reply);
  void submit(const json::array& args, protocol::Binder::Reply reply);
  void history(const json::array& args, protocol::Binder::Reply reply);
  void open_report(const json::array& args, protocol::Binder::Reply reply);
  using TaskCallback = std::function<void(const protocol::ExamStatus&, const std::string& task)>;
  // Resolves the session and the task the arguments name; errors go to `reply`.
  void with_task(const json::array& args, protocol::Binder::Reply reply, TaskCallback then);
  // Writes the history report and asks the editor to open it.
  void show_report(const std::filesystem::path& workspace, const std::string& task, const protocol::SubmissionList& list);
  // The task a command argument names: a task id, a file URI, or {"task"}.
  std::string task_argument(const json::array& args, const protocol::ExamStatus& st) const;

  // A note of a session we do not know: find ours again, once per session.
  void look_for(const std::string& session);
  void on_progress(const ProgressNote& p);
  void on_finished(const protocol::Finished& f);
  void on_timer(const protocol::Timer& t);
  void on_closed(const protocol::Closed& c);
  void on_syntax_check(const protocol::SyntaxCheck& c);
  // A save in a remote workspace: the text to the server's syntax check.
  void saved(const json::value& params);
  // `text` (nullopt: read the file) to the server's check.
  void save(const std::filesystem::path& path, std::optional<std::string> text);

  void show(MessageType type, const std::string& message);
  void refresh_lenses();

  Endpoint& editor_;
  Endpoint& daemon_;
  std::string version_;
  std::function<void(int)> on_exit_;
  ClientCapabilities caps_;
  bool shutdown_ = false;
  bool initialized_ = false;
  std::set<std::string> looked_for_;  // sessions already looked for (look_for)
  std::function<void(const InitializeParams&)> on_initialize_;
  bool reconnecting_ = false;    // between connection_lost and reconnected
  std::set<int64_t> gradings_;   // submissions not yet seen finished
  std::set<int64_t> recovered_;  // found finished after a reconnect: their own late note is skipped
  std::map<std::filesystem::path, std::optional<std::string>> unsent_saves_;  // saved while reconnecting
  DiagnosticsBook diagnostics_;
  SessionFinder finder_;
  std::unique_ptr<ProgressReporter> progress_;
};

}  // namespace torchexam::lsp
