// The JSON of a rejudging set's selection (rejudge_book.hpp): as the store
// keeps it and the protocol sends it. Apart from the book, so that the
// protocol's fuzzer links the conversion without the store.
#include "exam/rejudge_book.hpp"

#include "base/json_shape.hpp"
#include "sandbox/text.hpp"

#include <boost/json.hpp>

namespace torchexam {
namespace json = boost::json;

void tag_invoke(json::value_from_tag, json::value& v, const RejudgeSelection& s) {
  json::object o;
  if (s.submission) o["submission"] = s.submission;
  if (!s.session.empty()) o["session"] = s.session;
  if (!s.environment.empty()) o["environment"] = to_valid_utf8(s.environment);  // a folder's name may be any bytes
  if (!s.task.empty()) o["task"] = s.task;
  v = std::move(o);
}

RejudgeSelection tag_invoke(json::value_to_tag<RejudgeSelection>, const json::value& v) {
  const json_shape::Object o(v);
  o.only({"submission", "session", "environment", "task"});
  return {o.optional<int64_t>("submission"), o.optional<std::string>("session"),
          o.optional<std::string>("environment"), o.optional<std::string>("task")};
}

}  // namespace torchexam
