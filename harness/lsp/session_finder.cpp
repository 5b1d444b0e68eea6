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

void SessionFinder::unavailable(const std::string& why, bool tell_now) {
  if (unavailable_) return;
  unavailable_ = why;
  told_ = false;
  if (tell_now) tell_once(why);
}

bool SessionFinder::may_be_ours(const fs::path& file) const { return !last_ && root_ && inside(file, *root_); }

RpcError SessionFinder::none_here() const {
  return RpcError(protocol::error_code::not_found,
                  fmt::format("no exam session for {}; start one with: torchexam start ENV_DIR --workspace {}",
                              root_->string(), root_->string()));
}

void SessionFinder::find(Found then, Failed fail) {
  if (unavailable_) {
    tell_once(*unavailable_);
    return fail(RpcError(protocol::error_code::internal_error, *unavailable_));
  }
  json::object where;
  if (root_) where["workspace"] = root_->string();
  daemon_.request(protocol::method::exam_status, where, [this, then, fail](Result r) {
    // This workspace's session has closed while another is open elsewhere:
    // keep following the one we knew.
    if (std::holds_alternative<json::value>(r) && last_ && root_) {
      const auto st = daemon_view::exam_status(std::get<json::value>(r));
      if (st.session != last_->session && !inside(*root_, st.workspace) && !inside(st.workspace, *root_)) {
        daemon_.request(protocol::method::exam_status, json::object{{"session", last_->session}},
                        [this, then, fail](Result again) { accept(std::move(again), true, then, fail); });
        return;
      }
    }
    accept(std::move(r), false, then, fail);
  });
}

void SessionFinder::accept(Result r, bool by_session, const Found& then, const Failed& fail) {
  if (auto* e = std::get_if<RpcError>(&r)) {
    // No session at all, or several open and none of them here.
    const bool none = e->code == protocol::error_code::not_found || e->code == protocol::error_code::conflict;
    const RpcError error = none && root_ ? none_here() : *e;
    tell_once(error.what());
    return fail(error);
  }
  daemon_view::ExamStatus st = daemon_view::exam_status(std::get<json::value>(r));
  if (root_ && !by_session && !inside(*root_, st.workspace) && !inside(st.workspace, *root_)) {
    const RpcError error = none_here();  // the daemon's fallback: an open session elsewhere
    tell_once(error.what());
    return fail(error);
  }
  told_ = false;
  last_ = std::move(st);
  then(*last_);
}

}  // namespace torchexam::lsp
