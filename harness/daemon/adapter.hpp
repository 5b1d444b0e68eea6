// adapter.hpp — turns protocol messages into ExamService calls and the
// service's events into notifications (clangd's ClangdLSPServer role). Each
// method is bound with its typed params; a conversion failure is answered
// with invalid_params by the binder, a ServiceError with the matching
// application error code. Threads: the io thread.
#pragma once

#include "exam/exam_service.hpp"
#include "protocol/messages.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>

namespace torchexam::daemon {

struct DaemonInfo {
  int pid = 0;
  std::string socket;
  std::string state_dir;
};

class Adapter final : public ExamListener {
 public:
  // `notify` sends a notification body to the clients that may see it: it
  // is given the session the note is about ("" : none, a regrade set's);
  // the Unix socket's clients see every note, the TLS server's only those
  // of their own session (tls_server.hpp). `shutdown` stops the daemon
  // after the reply has gone out.
  using Notify = std::function<void(std::string body, const std::string& session)>;
  Adapter(ExamService& service, Notify notify, std::function<void()> shutdown, DaemonInfo info);
  ~Adapter() override;
  const protocol::Binder& binder() const { return binder_; }

  void on_progress(const ProgressNote& n) override;
  void on_finished(const store::SubmissionRecord& r) override;
  void on_timer(const store::SessionRecord& s, double remaining_s, std::optional<int> warning) override;
  void on_closed(const store::SessionRecord& s) override;
  void on_rejudge(const RejudgeProgress& p) override;
  void on_diagnostics(const std::string& session, const std::string& task, const std::filesystem::path& file,
                      const std::vector<Diagnostic>& diagnostics) override;

 private:
  // Rewrites a closed session's report (its scores changed after the close).
  void refresh_report(const std::string& session);
  // exam/status is what every client polls (the daemon_load benchmark: 200
  // clients at once): its reply is converted and written as JSON text once
  // per session until ExamService::generation() moves, without the two
  // clock fields, which each call writes in front of that text. Converting
  // the whole summary per call cost about 15 us of the daemon's CPU a call.
  protocol::Binder::SerializedResult status_reply(const std::string& session);
  struct CachedStatus {
    uint64_t generation = 0;
    std::optional<std::string> members;  // the summary's members but the clock, serialized: `"a":1,...}`
  };
  std::map<std::string, CachedStatus> status_cache_;

  ExamService& service_;
  Notify notify_;
  protocol::Binder binder_;
};

}  // namespace torchexam::daemon
