#include "lsp/session_finder.hpp"

#include "protocol/messages.hpp"

#include <fmt/format.h>

namespace torchexam::lsp {
namespace fs = std::filesystem;
using protocol::RpcError;

namespace {

// `child` is `parent` or lies inside it (lexically).
bool inside(const fs::path& child, const fs::path& parent) {
  const auto rel = child.lexically_normal().lexically_relative(parent.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

}  // namespace

void SessionFinder::tell_once(const std::string& message) {
  if (told_) return;
  told_ = true;
  tell_(message);
}

void SessionFinder::unavailable(const std::string& why, bool tell_now, bool quiet) {
  unavailable_ = why;
  told_ = quiet;
  if (tell_now) tell_once(why);
}

bool SessionFinder::may_be_ours(const fs::path& file) const { return !last_ && root_ && inside(file, *root_); }

fs::path SessionFinder::to_local(const fs::path& server_path) const {
  if (!remote_ || server_root_.empty() || !inside(server_path, server_root_)) return server_path;
  const fs::path local = !local_.empty() ? local_ : root_ ? *root_ : fs::path();
  if (local.empty()) return server_path;
  const fs::path rel = server_path.lexically_normal().lexically_relative(server_root_.lexically_normal());
  return rel == "." ? local : local / rel;
}

RpcError SessionFinder::none_here() const {
  if (remote_)
    return RpcError(protocol::error_code::not_found,
                    "you have no exam session on the server yet; start one with: torchexam join HOST:PORT --ca-file "
                    "CA --token-file TOKEN");
  return RpcError(protocol::error_code::not_found,
                  fmt::format("no exam session for {}; start one with: torchexam start ENV_DIR --workspace {}",
                              root_->string(), root_->string()));
}

void SessionFinder::find(Found then, Failed fail) {
  if (unavailable_) {
    tell_once(*unavailable_);
    return fail(RpcError(protocol::error_code::internal_error, *unavailable_));
  }
  protocol::SessionParams where;
  if (root_ && !remote_) where.workspace = root_->string();  // the server knows the session by the login
  request(daemon_, protocol::rpc::exam_status, where, [this, then, fail](Typed<protocol::ExamStatus> r) {
    // This workspace's session has closed while another is open elsewhere:
    // keep following the one we knew.
    if (const auto* st = std::get_if<protocol::ExamStatus>(&r); st && last_ && root_ && !remote_) {
      if (st->session != last_->session && !inside(*root_, st->workspace) && !inside(st->workspace, *root_)) {
        request(daemon_, protocol::rpc::exam_status, protocol::SessionParams{last_->session, ""},
                [this, then, fail](Typed<protocol::ExamStatus> again) { accept(std::move(again), true, then, fail); });
        return;
      }
    }
    accept(std::move(r), false, then, fail);
  });
}

void SessionFinder::accept(Typed<protocol::ExamStatus> r, bool by_session, const Found& then, const Failed& fail) {
  if (auto* e = std::get_if<RpcError>(&r)) {
    // No session at all, or several open and none of them here.
    const bool none = e->code == protocol::error_code::not_found || e->code == protocol::error_code::conflict;
    const RpcError error = none && (root_ || remote_) ? none_here() : *e;
    tell_once(error.what());
    return fail(error);
  }
  protocol::ExamStatus st = std::move(std::get<protocol::ExamStatus>(r));
  if (remote_) {
    server_root_ = st.workspace;
    const fs::path local = !local_.empty() ? local_ : root_ ? *root_ : fs::path();
    if (!local.empty()) {
      st.workspace = local;
      for (auto& t : st.tasks) t.folder = local / t.id;
    }
  } else if (root_ && !by_session && !inside(*root_, st.workspace) && !inside(st.workspace, *root_)) {
    const RpcError error = none_here();  // the daemon's fallback: an open session elsewhere
    tell_once(error.what());
    return fail(error);
  }
  told_ = false;
  last_ = std::move(st);
  then(*last_);
}

}  // namespace torchexam::lsp
