// jsonrpc.hpp — JSON-RPC 2.0 messages over the framing, and the binder that
// turns a method call into a typed handler call.
//
// Error policy: parse_message never throws; a body that is not JSON is
// parse_error (-32700), JSON that is not a JSON-RPC message is
// invalid_request (-32600). Handlers throw RpcError to answer with an error;
// the Binder answers params that do not convert with invalid_params
// (-32602) itself, so no handler parses JSON by hand (clangd's LSPBinder).
#pragma once

#include <boost/json.hpp>

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

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
// A result that is already serialised JSON (a cached reply), spliced in as is.
struct RawResult {
  std::string json;
};
std::string make_result(const json::value& id, const RawResult& result);
std::string make_error(const json::value& id, int code, std::string_view message);

// Reads fields of a params object with messages that say which field was
// wrong: "params.task: expected a string". Throws RpcError(invalid_params).
class Fields {
 public:
  Fields(const json::value& v, std::string where = "params");
  std::string string(const char* key) const;
  std::optional<std::string> opt_string(const char* key) const;
  int64_t integer(const char* key) const;
  std::optional<int64_t> opt_integer(const char* key) const;
  std::optional<double> opt_number(const char* key) const;
  std::optional<bool> opt_bool(const char* key) const;
  // Keys not in `known` are an error ("unknown field").
  void only(std::initializer_list<const char*> known) const;

 private:
  const json::value* find(const char* key) const;
  [[noreturn]] void wrong(const char* key, const char* expected) const;
  const json::object* obj_;
  std::string where_;
};

// Binds methods to handlers. A handler gets the raw params, converts them
// with a typed from_json (throwing RpcError(invalid_params)) and returns the
// result as JSON; replies may be given later (async) through `Reply`.
class Binder {
 public:
  using Reply = std::function<void(std::variant<json::value, RpcError, RawResult>)>;
  using Handler = std::function<void(const json::value& params, Reply reply)>;

  void method(std::string name, Handler h) { methods_[std::move(name)] = std::move(h); }

  // Synchronous convenience: Params P parsed by `P from_json(const json::value&)`
  // and a result R converted by `json::value to_json(const R&)`.
  template <class P, class R>
  void sync(std::string name, std::function<R(const P&)> f) {
    method(std::move(name), [f](const json::value& params, Reply reply) {
      try {
        P p = from_json(params, static_cast<P*>(nullptr));
        reply(json::value(to_json(f(p))));
      } catch (const RpcError& e) {
        reply(e);
      }
    });
  }

  // Dispatches a request (answered through `send`) or a notification (never
  // answered). Unknown methods get method_not_found; exceptions other than
  // RpcError become internal_error with their message.
  void dispatch(const Message& m, const std::function<void(std::string)>& send) const;

 private:
  std::map<std::string, Handler, std::less<>> methods_;
};

}  // namespace torchexam::protocol
