// The rejudge/ messages of messages.hpp (docs/protocol.md, "Rejudging
// sets"): their params, and the core's rejudging types that only the
// protocol sends. Text that may come from a command line, a file path or a
// harness message is written as valid UTF-8 (sandbox/text.hpp).
#include "base/json_shape.hpp"
#include "protocol/messages.hpp"
#include "protocol/read_name.hpp"
#include "sandbox/text.hpp"

namespace torchexam::protocol {
using json_shape::Object;

void tag_invoke(json::value_from_tag, json::value& v, const RejudgeCreateParams& p) {
  json::object o{{"kind", json::value_from(p.kind)}};
  if (p.submission) o["submission"] = p.submission;
  for (const auto& [key, value] : {std::pair{"session", &p.session}, {"workspace", &p.workspace},
                                   {"environment", &p.environment}, {"task", &p.task}, {"reason", &p.reason}})
    if (!value->empty()) o[key] = to_valid_utf8(*value);  // a folder or a reason typed on a command line
  v = std::move(o);
}

RejudgeCreateParams tag_invoke(json::value_to_tag<RejudgeCreateParams>, const json::value& v) {
  const Object o(v);
  o.only({"kind", "submission", "session", "workspace", "environment", "task", "reason"});
  return {o.required<RejudgeKind>("kind"),          o.optional<int64_t>("submission"),
          o.optional<std::string>("session"),       o.optional<std::string>("workspace"),
          o.optional<std::string>("environment"),   o.optional<std::string>("task"),
          o.optional<std::string>("reason")};
}

void tag_invoke(json::value_from_tag, json::value& v, const RejudgeParams& p) {
  v = json::object{{"rejudge", p.rejudge}};
}

RejudgeParams tag_invoke(json::value_to_tag<RejudgeParams>, const json::value& v) {
  const Object o(v);
  o.only({"rejudge"});
  return {o.required<int64_t>("rejudge")};
}

}  // namespace torchexam::protocol

namespace torchexam {
namespace json = boost::json;
using json_shape::Object;
using json_shape::write;

TORCHEXAM_PROTOCOL_BY_NAME(RejudgeKind, parse_rejudge_kind, rejudge_kind_names)
TORCHEXAM_PROTOCOL_BY_NAME(RejudgeState, parse_rejudge_state, rejudge_state_names)
TORCHEXAM_PROTOCOL_BY_NAME(RejudgeItemState, parse_rejudge_item_state, rejudge_item_state_names)

void tag_invoke(json::value_from_tag, json::value& v, const JudgingOutcome& j) {
  v = json::object{{"verdict", write(j.verdict)}, {"metric", write(j.metric)}, {"score", j.score}};
}

JudgingOutcome tag_invoke(json::value_to_tag<JudgingOutcome>, const json::value& v) {
  const Object o(v);
  return {o.optional<std::optional<std::string>>("verdict"), o.optional<std::optional<double>>("metric"),
          o.required<int>("score")};
}

void tag_invoke(json::value_from_tag, json::value& v, const DeltaRow& r) {
  v = json::object{{"submission", r.submission},
                   {"session", r.session},
                   {"task", r.task},
                   {"state", write(r.state)},
                   {"old", write(r.before)},
                   {"new", write(r.after)},
                   {"delta_score", r.delta_score},
                   {"reasons", write(to_valid_utf8(r.reasons))}};  // paths and harness messages among them
}

DeltaRow tag_invoke(json::value_to_tag<DeltaRow>, const json::value& v) {
  const Object o(v);
  return {o.required<int64_t>("submission"),
          o.required<std::string>("session"),
          o.required<std::string>("task"),
          o.required<RejudgeItemState>("state"),
          o.required<JudgingOutcome>("old"),
          o.optional<std::optional<JudgingOutcome>>("new"),
          o.required<int>("delta_score"),
          o.required<std::vector<std::string>>("reasons")};
}

void tag_invoke(json::value_from_tag, json::value& v, const RejudgeSet& s) {
  v = json::object{{"rejudge", s.id},
                   {"kind", write(s.kind)},
                   {"selection", json::value_from(s.selection)},
                   {"state", write(s.state)},
                   {"created_at_ms", s.created_at_ms},
                   {"reason", to_valid_utf8(s.reason)},
                   {"total", s.rows.size()},
                   {"done", s.done},
                   {"changed", s.changed},
                   {"rows", write(s.rows)}};
}

RejudgeSet tag_invoke(json::value_to_tag<RejudgeSet>, const json::value& v) {
  const Object o(v);
  RejudgeSet s;
  s.id = o.required<int64_t>("rejudge");
  s.kind = o.required<RejudgeKind>("kind");
  s.selection = o.required<RejudgeSelection>("selection");
  s.state = o.required<RejudgeState>("state");
  s.created_at_ms = o.required<int64_t>("created_at_ms");
  s.reason = o.required<std::string>("reason");
  s.done = o.required<int>("done");
  s.changed = o.required<int>("changed");
  s.rows = o.required<std::vector<DeltaRow>>("rows");
  return s;
}

void tag_invoke(json::value_from_tag, json::value& v, const RejudgeProgress& p) {
  v = json::object{{"rejudge", p.rejudge}, {"state", write(p.state)}, {"done", p.done}, {"total", p.total}};
}

RejudgeProgress tag_invoke(json::value_to_tag<RejudgeProgress>, const json::value& v) {
  const Object o(v);
  return {o.required<int64_t>("rejudge"), o.required<RejudgeState>("state"), o.required<int>("done"),
          o.required<int>("total")};
}

}  // namespace torchexam
