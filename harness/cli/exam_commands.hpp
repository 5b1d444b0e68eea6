// exam_commands.hpp — the CLI commands that talk to torchexamd:
//
//   torchexam start ENV_DIR --workspace DIR [--mode practice|exam] [--duration 90m] [--overwrite]
//   torchexam status
//   torchexam submit TASK [--wait] [--file F]
//   torchexam follow [SUBMISSION]
//   torchexam history TASK
//   torchexam restore TASK SUBMISSION
//   torchexam stop | pause | resume
//   torchexam sessions                          every session (exam/list; the examiner's over --server)
//   torchexam extend --session ID DURATION      more time for a session (exam/extend; the examiner's)
//   torchexam daemon start|stop|status
//
// Every command takes --json (the daemon's answer as JSON on stdout) and
// --socket PATH, and those that act on a session --session ID. The daemon is started when none runs
// (except by `daemon stop|status`). With torchexam's --server (docs/server.md)
// (or in a workspace joined with `torchexam join`, join_command.hpp) they
// talk to the proctored server instead: `start` names the environment and
// the server lays the workspace out on its side; `submit` uploads TASK/FILE
// (task/upload; a .pt/.pth model as its bytes) of the joined workspace,
// else from the folder it runs in;
// `daemon` is refused with --server and acts on the local daemon in a
// joined workspace. Exit status: 0 done; 1 the daemon refused
// (the message says why); 2 usage or an environment with errors; 3 no
// daemon could be reached; 130 Ctrl-C
// while following a grading (`submit --wait`, `follow`), which goes on.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

namespace torchexam::cli {

class ExamCommands {
 public:
  explicit ExamCommands(CLI::App& app);
  // The exit status when one of these commands was given, nullopt otherwise.
  std::optional<int> run();

 private:
  struct Options {
    bool json = false;
    std::string session;
    std::string candidate;  // --candidate: the session of this candidate
    std::string socket;
    std::string environment, workspace, mode = "practice", task, file = "solution.cpp", daemon_action;
    std::string duration;  // as in environment.yaml: 90m, 5h
    bool overwrite = false, wait = false;
    long long submission = 0;
  } o_;
  CLI::App* start_;
  CLI::App* status_;
  CLI::App* submit_;
  CLI::App* follow_;
  CLI::App* history_;
  CLI::App* restore_;
  CLI::App* stop_;
  CLI::App* pause_;
  CLI::App* resume_;
  CLI::App* sessions_;
  CLI::App* extend_;
  CLI::App* daemon_;
};

}  // namespace torchexam::cli
