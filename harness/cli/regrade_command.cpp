#include "cli/regrade_command.hpp"

#include "base/paths.hpp"
#include "cli/daemon_connection.hpp"
#include "cli/progress.hpp"
#include "client/client.hpp"
#include "protocol/messages.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include <unistd.h>

#include <iostream>
#include <vector>

namespace torchexam::cli {
namespace fs = std::filesystem;
namespace rpc = protocol::rpc;

namespace {

constexpr const char* kSelect =
    "say what to regrade: --submission N, --task T [--session S], --session S, or --environment E [--task T]";

std::string outcome_text(const JudgingOutcome& o) {
  return fmt::format("{:<14} {:>9} {}/5", o.verdict.value_or("-"), format_metric(o.metric), o.score);
}

std::string selection_text(const RejudgeSelection& s) {
  const std::string task = s.task.empty() ? "every task" : "task " + s.task;
  if (s.submission) return fmt::format("submission {}", s.submission);
  if (!s.session.empty()) return fmt::format("{} of session {}", task, s.session);
  return fmt::format("{} of every session of {}", task, s.environment);
}

void print_set(const RejudgeSet& s) {
  fmt::print("regrade set {} ({}, {}): {} of {} regraded, {} changed\n", s.id, to_string(s.kind), to_string(s.state),
             s.done, s.rows.size(), s.changed);
  fmt::print("selection: {}{}\n", selection_text(s.selection), s.reason.empty() ? "" : "; reason: " + s.reason);
  fmt::print("{:>6}  {:<20} {:<29} {:<29} {:>5}\n", "sub", "task", "old (verdict metric score)", "new", "delta");
  for (const auto& r : s.rows) {
    fmt::print("{:>6}  {:<20} {:<29} {:<29} {:>5}\n", r.submission, r.task, outcome_text(r.before),
               r.after ? outcome_text(*r.after) : std::string(to_string(r.state)),
               r.after ? fmt::format("{:+d}", r.delta_score) : std::string("-"));
    for (const auto& reason : r.reasons) fmt::print("{:>8}{}\n", "", reason);
    if (r.after && *r.after != r.before && r.reasons.empty())
      fmt::print("{:>8}nothing known changed: the task is not deterministic on this platform\n", "");
  }
  if (s.state == RejudgeState::review)
    fmt::print("make the new judgings live: torchexam regrade --apply {}; drop them: torchexam regrade --cancel {}\n",
               s.id, s.id);
  else if (s.state == RejudgeState::running)
    fmt::print("still regrading; see it again with: torchexam regrade --show {}\n", s.id);
}

// Follows set `id` until it leaves `running`, a line on stderr per item regraded.
RejudgeSet wait_for_review(Client& client, int64_t id) {
  const protocol::RejudgeParams which{id};
  RejudgeSet set = client.call(rpc::rejudge_get, which);
  int shown = -1;
  while (set.state == RejudgeState::running) {
    if (set.done != shown) {
      fmt::print(stderr, "regrade set {}: {} of {} regraded\n", id, set.done, set.rows.size());
      shown = set.done;
    }
    // A note says something moved; without one for a while, ask anyway.
    auto n = client.next_notification(std::chrono::seconds(5));
    if (n && n->method != protocol::method::rejudge_progress) continue;
    set = client.call(rpc::rejudge_get, which);
  }
  return set;
}

}  // namespace

RegradeCommand::RegradeCommand(CLI::App& app) {
  cmd_ = app.add_subcommand(
      "regrade",
      "regrade graded submissions as a set: --rescore (the stored predictions scored again with the current ladder "
      "and plugin, seconds, no retraining) or --retrain (built, trained and evaluated again); review the "
      "old/new/delta table, then --apply or --cancel it");
  cmd_->add_option("--submission", submission_, "one submission (see history)")->check(CLI::PositiveNumber);
  cmd_->add_option("--task", task_, "every graded submission of this task (of --session, else of the session here)");
  cmd_->add_option("--session", session_, "every graded submission of this exam session (with --task: of that task)");
  cmd_->add_option("--environment", environment_,
                   "every graded submission of every session of this environment (folder or installed name) on "
                   "this daemon (with --task: of that task)");
  cmd_->add_flag("--rescore", rescore_, "score the stored predictions again: no runner starts");
  cmd_->add_flag("--retrain", retrain_, "build, train and evaluate the stored sources again (locally or on Slurm)");
  cmd_->add_option("--reason", reason_, "what the regrade is for (kept with the set)");
  cmd_->add_flag("--no-wait", no_wait_, "print the new set at once instead of following it until it is in review");
  cmd_->add_option("--show", show_, "print set ID's old/new/delta table")->check(CLI::PositiveNumber);
  cmd_->add_option("--apply", apply_, "make set ID's new judgings live (the set must be in review)")
      ->check(CLI::PositiveNumber);
  cmd_->add_option("--cancel", cancel_, "drop set ID (its new judgings stay in the history, never live)")
      ->check(CLI::PositiveNumber);
  cmd_->add_flag("--json", json_, "print the set as JSON");
  cmd_->add_option("--socket", socket_,
                   "torchexamd's socket (default: $TORCHEXAM_SOCKET, else $XDG_RUNTIME_DIR/torchexam/daemon.sock, "
                   "else <state dir>/run/daemon.sock)");
}

std::string RegradeCommand::usage_problem() const {
  const int actions = (show_ != 0) + (apply_ != 0) + (cancel_ != 0);
  const bool creating = submission_ || !task_.empty() || !session_.empty() || !environment_.empty() || rescore_ ||
                        retrain_ || !reason_.empty();
  if (actions > 1) return "give one of --show, --apply and --cancel (each names one set)";
  if (actions == 1 && creating)
    return "--show, --apply and --cancel take only a set id; to make a new set leave them out: " + std::string(kSelect);
  if (actions == 1) return "";
  if (rescore_ && retrain_) return "choose one of --rescore and --retrain";
  if (!rescore_ && !retrain_)
    return "say how to regrade: --rescore (score the stored predictions again, seconds) or --retrain (build, train "
           "and evaluate again), or see a set with --show ID";
  if (submission_ && (!session_.empty() || !environment_.empty()))
    return "--submission names one submission: leave out --session and --environment";
  if (!session_.empty() && !environment_.empty())
    return "--session and --environment are two selections: give one (--environment takes every session of it)";
  if (!submission_ && task_.empty() && session_.empty() && environment_.empty()) return kSelect;
  return "";
}

std::optional<int> RegradeCommand::run() {
  if (!cmd_->parsed()) return std::nullopt;
  if (const std::string problem = usage_problem(); !problem.empty()) {
    fmt::print(stderr, "torchexam regrade: {}\n(torchexam regrade --help lists the options)\n", problem);
    return 2;
  }
  protocol::RejudgeCreateParams create;
  if (!environment_.empty()) {
    try {
      create.environment = fs::absolute(paths::environment_dir(environment_)).lexically_normal().string();
    } catch (const std::runtime_error& e) {
      fmt::print(stderr, "torchexam regrade: {}\n", e.what());
      return 2;
    }
  }
  const std::unique_ptr<Client> client = connect_daemon(socket_);
  if (!client) return 3;
  try {
    RejudgeSet set;
    if (show_) set = client->call(rpc::rejudge_get, {show_});
    else if (apply_) set = client->call(rpc::rejudge_apply, {apply_});
    else if (cancel_) set = client->call(rpc::rejudge_cancel, {cancel_});
    else {
      create.kind = rescore_ ? RejudgeKind::rescore : RejudgeKind::retrain;
      create.submission = submission_;
      create.task = task_;
      create.reason = reason_;
      if (!session_.empty()) create.session = session_;
      else if (!submission_ && environment_.empty()) create.workspace = fs::current_path().string();
      set = client->call(rpc::rejudge_create, create);
      if (!no_wait_) set = wait_for_review(*client, set.id);
    }
    if (json_) std::cout << boost::json::serialize(boost::json::value_from(set)) << std::endl;
    else print_set(set);
    return 0;
  } catch (...) {
    return daemon_failure(std::current_exception());
  }
}

}  // namespace torchexam::cli
