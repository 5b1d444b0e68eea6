// rpc_peer.hpp — one end of a JSON-RPC conversation that both asks and
// answers: the language server's side towards the editor (requests both
// ways) and towards the daemon (requests out, notifications in).
//
// Endpoint is the small interface the server logic talks to, so it can be
// driven by a fake in tests. RpcPeer implements it over a function that
// writes one message body (the transport, e.g. protocol::Channel::send).
//
// Contract: single-threaded (the io_context's thread). Incoming requests and
// notifications go to the Binder; a reply callback runs exactly once, with
// the result or an RpcError (the peer's error, or "connection closed" from
// close). Malformed input is answered with the JSON-RPC error when
// `answer_malformed` is set (the editor side, where `"params": null` also
// counts as no params), else dropped (the daemon side).
#pragma once

#include "protocol/jsonrpc.hpp"

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>

namespace torchexam::lsp {
namespace json = boost::json;

using Result = std::variant<json::value, protocol::RpcError>;
using Callback = std::function<void(Result)>;

class Endpoint {
 public:
  virtual ~Endpoint() = default;
  virtual void request(std::string_view method, json::value params, Callback cb) = 0;
  virtual void notify(std::string_view method, json::value params) = 0;
};

// A request by its signature (protocol/messages.hpp's rpc::): the params
// written and the result read as its types. A result of the wrong shape
// reaches `cb` as an internal_error naming the method and the field.
template <class R>
using Typed = std::variant<R, protocol::RpcError>;
template <class P, class R>
void request(Endpoint& to, const protocol::Call<P, R>& call, const P& params,
             std::type_identity_t<std::function<void(Typed<R>)>> cb) {
  to.request(call.name, json::value_from(params), [call, cb](Result r) {
    if (auto* e = std::get_if<protocol::RpcError>(&r)) return cb(std::move(*e));
    std::optional<Typed<R>> typed;
    try {
      typed.emplace(protocol::read_result(call, std::get<json::value>(r)));
    } catch (const protocol::ReplyError& e) {
      typed.emplace(protocol::RpcError(protocol::error_code::internal_error, e.what()));
    }
    cb(std::move(*typed));
  });
}

class RpcPeer : public Endpoint {
 public:
  RpcPeer(std::function<void(std::string)> send, const protocol::Binder& incoming, bool answer_malformed)
      : send_(std::move(send)), incoming_(incoming), answer_malformed_(answer_malformed) {}

  void request(std::string_view method, json::value params, Callback cb) override;
  void notify(std::string_view method, json::value params) override;

  // Handles one message body read from the transport.
  void receive(const std::string& body);
  // A framing error from the transport.
  void malformed(const std::string& message);
  // The peer went away (or never came): fails every request waiting for an
  // answer, and every later one at once, with `why`; notifications are dropped.
  void close(const std::string& why);
  // A new connection to the same peer (the server after a reconnect):
  // requests are sent again. Ids keep counting, so a late answer on the
  // old connection can never be taken for one on the new.
  void reopen() { closed_.reset(); }
  bool closed() const { return closed_.has_value(); }

 private:
  std::function<void(std::string)> send_;
  const protocol::Binder& incoming_;
  bool answer_malformed_;
  int64_t next_id_ = 1;
  std::map<int64_t, Callback> pending_;
  std::optional<std::string> closed_;
};

}  // namespace torchexam::lsp
