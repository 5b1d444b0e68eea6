#include "protocol/jsonrpc.hpp"

#include <cmath>

namespace torchexam::protocol {

std::variant<Message, ParseFailure> parse_message(std::string_view body, bool null_params_absent) {
  json::error_code ec;
  json::value v = json::parse(body, ec);
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

std::string make_result(const json::value& id, const RawResult& result) {
  std::string out = R"({"jsonrpc":"2.0","id":)";
  out += json::serialize(id);
  out += R"(,"result":)";
  out += result.json;
  out += '}';
  return out;
}

std::string make_error(const json::value& id, int code, std::string_view message) {
  return json::serialize(
      json::object{{"jsonrpc", "2.0"}, {"id", id}, {"error", json::object{{"code", code}, {"message", message}}}});
}

Fields::Fields(const json::value& v, std::string where) : obj_(v.if_object()), where_(std::move(where)) {
  if (!obj_) throw RpcError(error_code::invalid_params, where_ + ": expected an object");
}

const json::value* Fields::find(const char* key) const {
  auto it = obj_->find(key);
  return it == obj_->end() || it->value().is_null() ? nullptr : &it->value();
}

void Fields::wrong(const char* key, const char* expected) const {
  throw RpcError(error_code::invalid_params, where_ + "." + key + ": expected " + expected);
}

std::string Fields::string(const char* key) const {
  auto s = opt_string(key);
  if (!s) throw RpcError(error_code::invalid_params, where_ + "." + key + ": missing (a string is required)");
  return *s;
}

std::optional<std::string> Fields::opt_string(const char* key) const {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_string()) wrong(key, "a string");
  return std::string(v->get_string());
}

int64_t Fields::integer(const char* key) const {
  auto i = opt_integer(key);
  if (!i) throw RpcError(error_code::invalid_params, where_ + "." + key + ": missing (an integer is required)");
  return *i;
}

std::optional<int64_t> Fields::opt_integer(const char* key) const {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64() && v->get_uint64() <= static_cast<uint64_t>(INT64_MAX)) return static_cast<int64_t>(v->get_uint64());
  wrong(key, "an integer");
}

std::optional<double> Fields::opt_number(const char* key) const {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (v->is_double() && std::isfinite(v->get_double())) return v->get_double();  // 1e400 parses as infinity
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  wrong(key, "a finite number");
}

std::optional<bool> Fields::opt_bool(const char* key) const {
  const json::value* v = find(key);
  if (!v) return std::nullopt;
  if (!v->is_bool()) wrong(key, "true or false");
  return v->get_bool();
}

void Fields::only(std::initializer_list<const char*> known) const {
  for (const auto& [k, v] : *obj_) {
    bool ok = false;
    for (const char* name : known) ok = ok || k == name;
    if (!ok) {
      std::string list;
      for (const char* name : known) list += (list.empty() ? "" : ", ") + std::string(name);
      throw RpcError(error_code::invalid_params,
                     where_ + ": unknown field '" + std::string(k) + "' (known: " + (list.empty() ? "none" : list) + ")");
    }
  }
}

void Binder::dispatch(const Message& m, const std::function<void(std::string)>& send) const {
  const bool answer = m.kind == Message::Kind::request;
  const json::value id = m.id;
  auto it = methods_.find(m.method);
  if (it == methods_.end()) {
    if (answer) send(make_error(id, error_code::method_not_found, "unknown method '" + m.method + "'"));
    return;
  }
  Reply reply = [answer, id, send](std::variant<json::value, RpcError, RawResult> r) {
    if (!answer) return;
    if (auto* v = std::get_if<json::value>(&r))
      send(make_result(id, std::move(*v)));
    else if (auto* raw = std::get_if<RawResult>(&r))
      send(make_result(id, *raw));
    else {
      const auto& e = std::get<RpcError>(r);
      send(make_error(id, e.code, e.what()));
    }
  };
  try {
    it->second(m.params, reply);
  } catch (const RpcError& e) {
    reply(e);
  } catch (const std::exception& e) {
    reply(RpcError(error_code::internal_error, e.what()));
  }
}

}  // namespace torchexam::protocol
