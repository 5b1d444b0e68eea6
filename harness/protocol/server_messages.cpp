#include "protocol/server_messages.hpp"

#include "base/json_shape.hpp"

namespace torchexam::protocol {
using json_shape::Object;
using json_shape::write;

void tag_invoke(json::value_from_tag, json::value& v, const LoginParams& p) { v = {{"token", p.token}}; }

LoginParams tag_invoke(json::value_to_tag<LoginParams>, const json::value& v) {
  const Object o(v);
  o.only({"token"});
  return {o.required<std::string>("token")};
}

void tag_invoke(json::value_from_tag, json::value& v, const Identity& i) {
  v = {{"role", i.role}, {"name", i.name}, {"environment", i.environment}, {"session", write(i.session)}};
}

Identity tag_invoke(json::value_to_tag<Identity>, const json::value& v) {
  const Object o(v);
  return {o.required<std::string>("role"), o.required<std::string>("name"), o.required<std::string>("environment"),
          o.optional<std::optional<std::string>>("session")};
}

void tag_invoke(json::value_from_tag, json::value& v, const ExtendParams& p) {
  v = {{"session", p.session}, {"seconds", p.seconds}};
}

ExtendParams tag_invoke(json::value_to_tag<ExtendParams>, const json::value& v) {
  const Object o(v);
  o.only({"session", "seconds"});
  return {o.required<std::string>("session"), o.required<double>("seconds")};
}

void tag_invoke(json::value_from_tag, json::value& v, const SessionList& l) { v = {{"sessions", write(l.sessions)}}; }

SessionList tag_invoke(json::value_to_tag<SessionList>, const json::value& v) {
  return {Object(v).required<std::vector<ExamStatus>>("sessions")};
}

}  // namespace torchexam::protocol
