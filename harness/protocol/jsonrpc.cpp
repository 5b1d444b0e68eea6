#include "protocol/jsonrpc.hpp"

#include <cmath>

namespace torchexam::protocol {

std::variant<Message, ParseFailure> parse_message(std::string_view body, bool null_params_absent) {
  // The parse tree lives only until the fields below are copied out of it
  // (json::value's assignment copies into the target's own storage), so it
  // is built in a buffer on the stack: a request of a few hundred bytes
  // costs no heap allocation for its keys, strings and objects. A larger
  // body spills over into blocks the resource frees on return.
  unsigned char scratch_buffer[4096];
  json::monotonic_resource scratch(scratch_buffer, sizeof scratch_buffer);
  json::error_code ec;
  const json::value v = json::parse(body, ec, &scratch);
  if (ec) return ParseFailure{error_code::parse_error, "not JSON: " + ec.message(), nullptr};
  if (!v.is_object()) return ParseFailure{error_code::invalid_request, "a JSON-RPC message must be an object", nullptr};
  const auto& o = v.get_object();
  json::value id = nullptr;
  if (auto it = o.find("id"); it != o.end()) {
    if (!it->value().is_string() && !it->value().is_int64() && !it->value().is_uint64() && !it->value().is_null())
      return ParseFailure{error_code::invalid_request, "id must be a string or an integer", nullptr};
    id = it->value();
  }
  auto version = o.find("jsonrpc");
  if (version == o.end() || !version->value().is_string() || version->value().get_string() != "2.0")
    return ParseFailure{error_code::invalid_request, "\"jsonrpc\" must be \"2.0\"", id};
  Message m;
  m.id = id;
  if (auto method = o.find("method"); method != o.end()) {
    if (!method->value().is_string()) return ParseFailure{error_code::invalid_request, "method must be a string", id};
    m.method = method->value().get_string();
    m.kind = o.contains("id") ? Message::Kind::request : Message::Kind::notification;
    if (auto params = o.find("params"); params != o.end() && !(null_params_absent && params->value().is_null())) {
      if (!params->value().is_object() && !params->value().is_array())
        return ParseFailure{error_code::invalid_request, "params must be an object or an array", id};
      m.params = params->value();
    } else {
      m.params = json::object();
    }
    return m;
  }
  if (!o.contains("id")) return ParseFailure{error_code::invalid_request, "a message needs a method or an id", nullptr};
  if (!o.contains("result") && !o.contains("error"))
    return ParseFailure{error_code::invalid_request, "a request needs a \"method\"", id};
  m.kind = Message::Kind::response;
  if (auto r = o.find("result"); r != o.end()) m.result = r->value();
  if (auto e = o.find("error"); e != o.end()) {
    if (!e->value().is_object()) return ParseFailure{error_code::invalid_request, "error must be an object", id};
    const auto& eo = e->value().get_object();
    int code = 0;
    std::string msg;
    if (auto c = eo.find("code"); c != eo.end() && c->value().is_int64()) code = static_cast<int>(c->value().get_int64());
    if (auto s = eo.find("message"); s != eo.end() && s->value().is_string()) msg = s->value().get_string();
    m.error = std::make_pair(code, msg);
  }
  return m;
}

std::string make_request(const json::value& id, std::string_view method, json::value params) {
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
}

std::string make_notification(std::string_view method, json::value params) {
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"method", method}, {"params", std::move(params)}});
}

std::string make_result(const json::value& id, json::value result) {
  return json::serialize(json::object{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}});
}

std::string make_result_text(const json::value& id, std::string_view result_json) {
  constexpr std::string_view head = R"({"jsonrpc":"2.0","id":)", middle = R"(,"result":)";
  const std::string id_json = json::serialize(id);
  std::string out;
  out.reserve(head.size() + id_json.size() + middle.size() + result_json.size() + 1);  // one allocation
  out += head;
  out += id_json;
  out += middle;
  out += result_json;
  out += '}';
  return out;
}

std::string make_error(const json::value& id, int code, std::string_view message) {
  return json::serialize(
      json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", json::object{{"code", code}, {"message", message}}}});
}

std::string make_error(const json::value& id, int code, std::string_view message, json::value data) {
  return json::serialize(
      json::object{{"jsonrpc", "2.0"},
                   {"id", id},
                   {"error", json::object{{"code", code}, {"message", message}, {"data", std::move(data)}}}});
}

ReplyError::ReplyError(const std::string& subject, const json_shape::ShapeError& e)
    : std::runtime_error("torchexamd's " + subject + " does not match the protocol: " + e.what()) {}

Fields::Fields(const json::value& v, std::string where) : where_(std::move(where)) {
  guarded([&] {
    obj_.emplace(v);
    return 0;
  });
}

std::string Fields::string(const char* key) const {
  return guarded([&] { return obj_->required<std::string>(key); });
}

std::optional<std::string> Fields::opt_string(const char* key) const {
  return guarded([&] { return obj_->optional<std::optional<std::string>>(key); });
}

Fields Fields::object(const char* key) const {
  static const json::value empty = json::object();
  const json::value* v = obj_->fields().if_contains(key);
  return Fields(v && !v->is_null() ? *v : empty, where_ + "." + key);
}

void Binder::dispatch(const Message& m, const std::function<void(std::string)>& send) const {
  const bool answer = m.kind == Message::Kind::request;
  const json::value id = m.id;
  auto it = methods_.find(m.method);
  if (it == methods_.end()) {
    if (answer) send(make_error(id, error_code::method_not_found, "unknown method '" + m.method + "'"));
    return;
  }
  Reply reply = [answer, id, send](std::variant<json::value, Binder::SerializedResult, RpcError> r) {
    if (!answer) return;
    if (auto* v = std::get_if<json::value>(&r))
      send(make_result(id, std::move(*v)));
    else if (auto* t = std::get_if<Binder::SerializedResult>(&r))
      send(make_result_text(id, t->json));
    else {
      const auto& e = std::get<RpcError>(r);
      send(make_error(id, e.code, e.what()));
    }
  };
  // The handler gets the reply itself, not a copy (a copy of a Reply is
  // two heap allocations, per call); an exception is answered here from
  // `id` and `send`, as the reply would answer it.
  try {
    it->second(m.params, std::move(reply));
  } catch (const RpcError& e) {
    if (answer) send(make_error(id, e.code, e.what()));
  } catch (const std::exception& e) {
    if (answer) send(make_error(id, error_code::internal_error, e.what()));
  }
}

}  // namespace torchexam::protocol
