#include "cli/report_command.hpp"

#include "base/paths.hpp"
#include "base/process.hpp"
#include "cli/daemon_connection.hpp"
#include "client/client.hpp"
#include "protocol/messages.hpp"
#include "report/model.hpp"
#include "report/render.hpp"
#include "report/report_file.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <iostream>

namespace torchexam::cli {
namespace fs = std::filesystem;

ReportCommand::ReportCommand(CLI::App& app) {
  cmd_ = app.add_subcommand(
      "report",
      "write a self-contained HTML report: the score on the task's ladder, training curves, task diagnostics and, "
      "for a session, the score timeline against the pass mark");
  cmd_->add_option("SUBMISSION", submission_, "one submission (see history); default: the whole session")
      ->check(CLI::PositiveNumber);
  auto* task = cmd_->add_option("--task", task_, "every submission of this task");
  task->excludes("SUBMISSION");
  cmd_->add_option("-o,--output", output_,
                   "the file to write (default: torchexam-report[-CANDIDATE][-TASK|-SUBMISSION].html in the "
                   "session's workspace; over --server in the joined workspace, else this folder)");
  auto* json = cmd_->add_flag("--json", json_, "the report's data as JSON instead of HTML (on stdout, or to -o FILE)");
  cmd_->add_flag("--open", open_, "open the HTML file with xdg-open (the desktop's browser)")->excludes(json);
  auto* id = cmd_->add_option("--session", session_, "exam session id (default: the one open here, or the only one)");
  cmd_->add_option("--candidate", candidate_,
                   "the session of this candidate (an examiner's alternative to --session over --server)")
      ->excludes(id);
  cmd_->add_option("--socket", socket_,
                   "torchexamd's socket (default: $TORCHEXAM_SOCKET, else $XDG_RUNTIME_DIR/torchexam/daemon.sock, "
                   "else <state dir>/run/daemon.sock)");
}

std::optional<int> ReportCommand::run() {
  if (!cmd_->parsed()) return std::nullopt;
  const std::unique_ptr<Client> client = connect_daemon(socket_);
  if (!client) return 3;
  if (!candidate_.empty()) try {
      session_ = session_of_candidate(*client, candidate_);
    } catch (...) {
      return daemon_failure(std::current_exception());
    }
  protocol::ReportParams params;
  params.task = task_;
  params.submission = submission_;
  if (!session_.empty()) params.session = session_;
  else if (submission_ == 0) params.workspace = fs::current_path().string();
  protocol::ReportData data;
  try {
    data = client->call(protocol::rpc::report_data, params);
  } catch (...) {
    return daemon_failure(std::current_exception());
  }
  const report::Report r = report::build_report(data);
  try {
    if (json_) {
      const std::string text = boost::json::serialize(boost::json::value_from(r)) + "\n";
      if (output_.empty()) std::cout << text << std::flush;
      else report::write_report(output_, text);
      if (!output_.empty()) fmt::print("wrote {}\n", output_);
      return 0;
    }
    // The session's workspace, or over the server (whose workspace is on the
    // server) the joined workspace here, else this folder.
    const fs::path folder = !remote_server()              ? fs::path(data.status.workspace)
                            : !remote_workspace().empty() ? remote_workspace()
                                                          : fs::current_path();
    // An examiner's report of a candidate is named after them, so that one per candidate can sit side by side.
    fs::path path = output_.empty() ? report::default_report_path(folder, task_, submission_) : fs::absolute(output_);
    if (output_.empty() && !candidate_.empty())
      path.replace_filename("torchexam-report-" + candidate_ + path.filename().string().substr(16));
    const std::string html = report::render_html(r);
    report::write_report(path, html);
    fmt::print("wrote {} ({} KiB): {}\n", path.string(), (html.size() + 1023) / 1024, r.title);
    if (!open_) return 0;
    ProcessLauncher& launcher = system_launcher();
    const fs::path opener = launcher.find_executable("xdg-open");
    if (opener.empty()) {
      fmt::print(stderr,
                 "torchexam: there is no xdg-open on PATH to open the report with; open {} in a browser "
                 "(or install it: apt-get install xdg-utils)\n",
                 path.string());
      return 1;
    }
    launcher.start_detached({opener, {path.string()}, paths::state_dir() / "xdg-open.log"});
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "torchexam: {}\n", e.what());
    return 3;
  }
}

}  // namespace torchexam::cli
