#include "lsp/rpc_peer.hpp"

namespace torchexam::lsp {

void RpcPeer::request(std::string_view method, json::value params, Callback cb) {
  if (closed_) return cb(protocol::RpcError(protocol::error_code::internal_error, *closed_));
  const int64_t id = next_id_++;
  pending_.emplace(id, std::move(cb));
  if (params.is_null())  // LSP: a request without params omits the member
    send_(json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}}));
  else
    send_(protocol::make_request(id, method, std::move(params)));
}

void RpcPeer::notify(std::string_view method, json::value params) {
  if (closed_) return;
  send_(protocol::make_notification(method, std::move(params)));
}

void RpcPeer::malformed(const std::string& message) {
  if (answer_malformed_)
    send_(protocol::make_error(nullptr, protocol::error_code::parse_error, "bad framing: " + message));
}

void RpcPeer::receive(const std::string& body) {
  auto parsed = protocol::parse_message(body, answer_malformed_);  // editors may send "params": null
  if (auto* failure = std::get_if<protocol::ParseFailure>(&parsed)) {
    if (answer_malformed_) send_(protocol::make_error(failure->id, failure->code, failure->message));
    return;
  }
  auto& m = std::get<protocol::Message>(parsed);
  if (m.kind != protocol::Message::Kind::response) {
    incoming_.dispatch(m, send_);
    return;
  }
  if (!m.id.is_int64()) return;  // not an id we sent
  auto it = pending_.find(m.id.get_int64());
  if (it == pending_.end()) return;
  Callback cb = std::move(it->second);
  pending_.erase(it);
  if (m.error)
    cb(protocol::RpcError(m.error->first, m.error->second));
  else
    cb(std::move(m.result));
}

void RpcPeer::close(const std::string& why) {
  if (!closed_) closed_ = why;
  auto pending = std::move(pending_);
  pending_.clear();
  for (auto& [id, cb] : pending) cb(protocol::RpcError(protocol::error_code::internal_error, why));
}

}  // namespace torchexam::lsp
