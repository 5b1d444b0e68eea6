// The messages that carry a grading's training progress: the progress
// fields of submission/progress and report/data (SubmissionProgress), and the
// submission/progress notification (ProgressNote), both ways.
#include "protocol/messages.hpp"

#include "protocol/read_name.hpp"

#include "base/json_shape.hpp"

namespace torchexam {
namespace json = boost::json;
using json_shape::Object;
using json_shape::write;

namespace {

// A progress event's training fields, as submission/progress and
// report/data carry them.
void write_progress(json::object& o, const events::Progress& p) {
  o["kind"] = p.kind == events::Progress::Kind::batch ? "batch" : "epoch";
  o["epoch"] = p.epoch;
  o["epochs"] = p.epochs;
  o["batch"] = p.batch;
  o["batches"] = p.batches;
  o["loss"] = write(p.loss);
  o["metrics"] = write(p.metrics);
  o["samples_per_s"] = write(p.samples_per_s);
  o["eta_s"] = write(p.eta_s);
  o["budget_left_s"] = write(p.budget_left_s);
  o["elapsed_s"] = write(p.elapsed_s);
}

events::Progress read_progress(const Object& o) {
  events::Progress p;
  const std::string kind = o.required<std::string>("kind");
  if (kind != "batch" && kind != "epoch") throw json_shape::ShapeError(".kind", "expected batch or epoch");
  p.kind = kind == "batch" ? events::Progress::Kind::batch : events::Progress::Kind::epoch;
  p.epoch = o.required<int>("epoch");
  p.epochs = o.required<int>("epochs");
  p.batch = o.required<long long>("batch");
  p.batches = o.required<long long>("batches");
  p.loss = o.real("loss");
  if (o.has("metrics")) {
    try {
      p.metrics = json_shape::read_reals(Object(o.required<json::value>("metrics")));  // NaN was null
    } catch (const json_shape::ShapeError& e) {
      throw e.within(".metrics");
    }
  }
  p.samples_per_s = o.real("samples_per_s");
  p.eta_s = o.real("eta_s");
  p.budget_left_s = o.real("budget_left_s");
  p.elapsed_s = o.real("elapsed_s");
  return p;
}

}  // namespace

namespace protocol {

void tag_invoke(json::value_from_tag, json::value& v, const SubmissionProgress& p) {
  json::array events;
  events.reserve(p.events.size());
  for (const auto& e : p.events) {
    json::object o;
    write_progress(o, e);
    events.push_back(std::move(o));
  }
  v = {{"submission", p.submission}, {"events", std::move(events)}};
}

SubmissionProgress tag_invoke(json::value_to_tag<SubmissionProgress>, const json::value& v) {
  const Object o(v);
  SubmissionProgress p{o.required<int64_t>("submission"), {}};
  const auto events = o.required<std::vector<json::value>>("events");
  for (size_t i = 0; i < events.size(); ++i) {
    try {
      p.events.push_back(read_progress(Object(events[i])));
    } catch (const json_shape::ShapeError& e) {
      throw e.within(".events[" + std::to_string(i) + "]");
    }
  }
  return p;
}

}  // namespace protocol

void tag_invoke(json::value_from_tag, json::value& v, const ProgressNote& n) {
  json::object o{{"session", n.session},
                 {"submission", n.submission},
                 {"task", n.task},
                 {"stage", write(n.stage)},
                 {"queue_position", n.queue_position}};
  if (n.progress) write_progress(o, *n.progress);  // the runner's training fields, flat beside the stage
  v = std::move(o);
}

ProgressNote tag_invoke(json::value_to_tag<ProgressNote>, const json::value& v) {
  const Object o(v);
  ProgressNote n{o.required<std::string>("session"), o.required<int64_t>("submission"),
                 o.required<std::string>("task"), o.required<Stage>("stage"),
                 o.required<int>("queue_position"), std::nullopt};
  if (!o.has("epoch")) return n;
  n.progress = read_progress(o);
  return n;
}

}  // namespace torchexam

