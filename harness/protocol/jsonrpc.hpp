// jsonrpc.hpp — JSON-RPC 2.0 messages over the framing, and the binder that
// turns a method call into a typed handler call.
//
// Error policy: parse_message never throws; a body that is not JSON is
// parse_error (-32700), JSON that is not a JSON-RPC message is
// invalid_request (-32600). Handlers throw RpcError to answer with an error;
// the Binder answers params that do not convert with invalid_params
// (-32602) itself, so no handler parses JSON by hand (clangd's LSPBinder).
// On the calling side, a result or notification that does not convert is a
// ReplyError naming the method and the field.
#pragma once

#include "base/json_shape.hpp"

#include <boost/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

namespace torchexam::protocol {
namespace json = boost::json;

namespace error_code {
inline constexpr int parse_error = -32700;
inline constexpr int invalid_request = -32600;
inline constexpr int method_not_found = -32601;
inline constexpr int invalid_params = -32602;
inline constexpr int internal_error = -32603;
// Application errors (JSON-RPC reserves -32000..-32099 for servers).
inline constexpr int not_found = -32001;       // no such session, task or submission
inline constexpr int exam_closed = -32002;     // the deadline has passed
inline constexpr int conflict = -32003;        // e.g. a non-empty workspace, a second session
inline constexpr int invalid_state = -32004;   // e.g. pausing an exam-mode session
inline constexpr int environment_error = -32005;  // the exam environment has errors
// The proctored server (docs/server.md): no valid login on this connection
// (a missing, wrong, expired or revoked token), and a call this login may
// not make (another candidate's work, an examiner's method).
inline constexpr int unauthorized = -32006;
inline constexpr int forbidden = -32007;
}  // namespace error_code

class RpcError : public std::runtime_error {
 public:
  RpcError(int code, std::string message) : std::runtime_error(std::move(message)), code(code) {}
  int code;
};

struct Message {
  enum class Kind { request, notification, response } kind = Kind::request;
  json::value id;  // request/response: string or number
  std::string method;
  json::value params;  // object, array or null
  json::value result;
  std::optional<std::pair<int, std::string>> error;  // response with an error
};

struct ParseFailure {
  int code;
  std::string message;
  json::value id;  // null when the id could not be read
};

// `null_params_absent`: read `"params": null` as no params instead of
// refusing it. The daemon keeps the strict default; the language server sets
// it towards editors, some of which (Emacs's jsonrpc.el) send null params.
std::variant<Message, ParseFailure> parse_message(std::string_view body, bool null_params_absent = false);

std::string make_request(const json::value& id, std::string_view method, json::value params);
std::string make_notification(std::string_view method, json::value params);
std::string make_result(const json::value& id, json::value result);
// A result already written as JSON text (Binder::SerializedResult).
std::string make_result_text(const json::value& id, std::string_view result_json);
std::string make_error(const json::value& id, int code, std::string_view message);
// With the error's `data` member (e.g. rate_limited's {"retry_after_ms": N}).
std::string make_error(const json::value& id, int code, std::string_view message, json::value data);

// A method by its signature: its name, the params it takes and the result
// it answers with (protocol/messages.hpp lists them all), and a notification
// by its name and params.
template <class P, class R>
struct Call {
  using Params = P;
  using Result = R;
  const char* name;
};
template <class N>
struct Note {
  using Params = N;
  const char* name;
};

// Params as P (its value_to): a wrong shape is RpcError(invalid_params)
// naming the field, "params.task: expected a string".
template <class P>
P read_params(const json::value& params) {
  try {
    return json::value_to<P>(params);
  } catch (const json_shape::ShapeError& e) {
    throw RpcError(error_code::invalid_params, "params" + e.what_at());
  }
}

// A reply or notification of the daemon that does not have its method's
// shape: "torchexamd's reply to exam/status does not match the protocol:
// result.tasks[0].best_score: expected an integer".
class ReplyError : public std::runtime_error {
 public:
  ReplyError(const std::string& subject, const json_shape::ShapeError& e);
};

template <class P, class R>
R read_result(const Call<P, R>& call, const json::value& result) {
  try {
    return json::value_to<R>(result);
  } catch (const json_shape::ShapeError& e) {
    throw ReplyError(std::string("reply to ") + call.name, e.within("result"));
  }
}

template <class N>
N read_note(const Note<N>& note, const json::value& params) {
  try {
    return json::value_to<N>(params);
  } catch (const json_shape::ShapeError& e) {
    throw ReplyError(std::string(note.name) + " notification", e.within("params"));
  }
}

// Reads fields of an object someone else's protocol defines (the LSP's
// editor params), with the messages of read_params: "params.textDocument.uri:
// expected a string". Throws RpcError(invalid_params).
class Fields {
 public:
  Fields(const json::value& v, std::string where = "params");
  std::string string(const char* key) const;
  std::optional<std::string> opt_string(const char* key) const;
  // Absent or null: `fallback`.
  template <class T>
  T optional(const char* key, T fallback = T{}) const {
    return guarded([&] { return obj_->optional<T>(key, std::move(fallback)); });
  }
  // The object at `key`, read the same way; absent or null: an empty one.
  Fields object(const char* key) const;
  bool has(const char* key) const { return obj_->has(key); }

 private:
  template <class F>
  auto guarded(F f) const {
    try {
      return f();
    } catch (const json_shape::ShapeError& e) {
      throw RpcError(error_code::invalid_params, where_ + e.what_at());
    }
  }
  std::optional<json_shape::Object> obj_;
  std::string where_;
};

// Binds methods to handlers. A handler gets the raw params and answers
// through `Reply`, at once or later (async). bind() binds one by its
// signature: the params are read as P here, so a wrong shape is answered
// with invalid_params before the handler runs, and the result R is written
// with value_from.
class Binder {
 public:
  // A result already serialized: what json::serialize(json::value_from(R))
  // gives for the call's result type R, perhaps with its members in another
  // order. For a reply the daemon keeps as text because clients poll it
  // (exam/status); bind_serialized() binds one.
  struct SerializedResult {
    std::string json;
  };
  using Reply = std::function<void(std::variant<json::value, SerializedResult, RpcError>)>;
  using Handler = std::function<void(const json::value& params, Reply reply)>;
  template <class R>
  using TypedReply = std::function<void(std::variant<R, RpcError>)>;

  void method(std::string name, Handler h) { methods_[std::move(name)] = std::move(h); }

  template <class P, class R>
  void bind(const Call<P, R>& call, std::type_identity_t<std::function<void(const P&, TypedReply<R>)>> handler) {
    method(call.name, [handler](const json::value& params, Reply reply) {
      handler(read_params<P>(params), [reply = std::move(reply)](std::variant<R, RpcError> r) {
        if (auto* e = std::get_if<RpcError>(&r)) return reply(std::move(*e));
        reply(json::value_from(std::get<R>(r)));
      });
    });
  }

  // As bind(), for a handler that answers with R already written as JSON
  // text (SerializedResult); its params are read as P.
  template <class P, class R>
  void bind_serialized(const Call<P, R>& call,
                       std::type_identity_t<std::function<void(const P&, Reply)>> handler) {
    method(call.name,
           [handler](const json::value& params, Reply reply) { handler(read_params<P>(params), std::move(reply)); });
  }

  // A notification by its name: its params read as N, and dropped (never
  // answered) when they do not have that shape.
  template <class N>
  void bind(const Note<N>& note, std::type_identity_t<std::function<void(const N&)>> handler) {
    method(note.name, [note, handler](const json::value& params, Reply) { handler(read_note(note, params)); });
  }

  // Dispatches a request (answered through `send`) or a notification (never
  // answered). Unknown methods get method_not_found; exceptions other than
  // RpcError become internal_error with their message.
  void dispatch(const Message& m, const std::function<void(std::string)>& send) const;

  // Every bound method's name, sorted (the proctored server's access table
  // is checked against it).
  std::vector<std::string> method_names() const {
    std::vector<std::string> out;
    for (const auto& [name, h] : methods_) out.push_back(name);
    return out;
  }

 private:
  std::map<std::string, Handler, std::less<>> methods_;
};

}  // namespace torchexam::protocol
