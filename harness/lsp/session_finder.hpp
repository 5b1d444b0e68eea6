// session_finder.hpp — which exam session the editor's workspace belongs to.
//
// Asks the daemon (exam/status with the root folder) on every find, so a
// session started after the editor is found, and keeps the last answer. The
// daemon falls back to "the only open session" for a folder it does not
// know; the finder refuses a session whose workspace neither holds nor lies
// inside the root, and says how to start one instead. A session that closed
// while another opened elsewhere keeps being followed by id.
//
// Against the proctored server (set_remote: a workspace joined with
// `torchexam join`) the session is the candidate's own, and its paths are
// the server's: every status found is rewritten to the local workspace
// (its workspace becomes the local one, each task folder <local>/<task>),
// and to_local() rewrites any other server path (a syntax check's file).
//
// Errors reach the user through `tell` once, until a find succeeds again.
// Threads: one (the io_context's).
#pragma once

#include "lsp/rpc_peer.hpp"
#include "protocol/messages.hpp"

#include <filesystem>
#include <functional>
#include <optional>
#include <string>

namespace torchexam::lsp {

class SessionFinder {
 public:
  using Found = std::function<void(const protocol::ExamStatus&)>;
  using Failed = std::function<void(const protocol::RpcError&)>;

  SessionFinder(Endpoint& daemon, std::function<void(const std::string& message)> tell)
      : daemon_(daemon), tell_(std::move(tell)) {}

  void set_root(std::optional<std::filesystem::path> root) { root_ = std::move(root); }
  // The server's session is laid out in `local` (empty: the editor's root).
  void set_remote(std::filesystem::path local) {
    remote_ = true;
    local_ = std::move(local);
  }
  bool remote() const { return remote_; }
  // A path of the server's workspace as the same file here; others as they are.
  std::filesystem::path to_local(const std::filesystem::path& server_path) const;
  // The daemon cannot be reached: every find fails with `why` (the last
  // one given), told at the first find, or now when `tell_now`; not at all
  // when `quiet` (the caller has said it in its own words).
  void unavailable(const std::string& why, bool tell_now, bool quiet = false);
  // Reachable again (the server after a reconnect): finds ask it again.
  void available() {
    unavailable_.reset();
    told_ = false;
  }
  bool reachable() const { return !unavailable_; }

  void find(Found then, Failed fail);

  // The last status found (nullptr before the first).
  protocol::ExamStatus* last() { return last_ ? &*last_ : nullptr; }
  bool ours(const std::string& session) const { return last_ && last_->session == session; }
  // No session known yet, but `file` is under the root: it may be ours.
  bool may_be_ours(const std::filesystem::path& file) const;

 private:
  void accept(Typed<protocol::ExamStatus> r, bool by_session, const Found& then, const Failed& fail);
  protocol::RpcError none_here() const;
  void tell_once(const std::string& message);

  Endpoint& daemon_;
  std::function<void(const std::string&)> tell_;
  std::optional<std::filesystem::path> root_;
  std::optional<protocol::ExamStatus> last_;
  std::optional<std::string> unavailable_;
  bool remote_ = false;
  std::filesystem::path local_;         // set_remote's folder ("" : root_)
  std::filesystem::path server_root_;  // the session's workspace on the server, once found
  bool told_ = false;
};

}  // namespace torchexam::lsp
