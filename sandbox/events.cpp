#include "events.hpp"

#include <boost/json.hpp>

namespace torchexam::events {
namespace json = boost::json;

namespace {

double num(const json::object& o, std::string_view key, double fallback = 0) {
  auto it = o.find(key);
  if (it == o.end()) return fallback;
  if (it->value().is_double()) return it->value().get_double();
  if (it->value().is_int64()) return static_cast<double>(it->value().get_int64());
  if (it->value().is_uint64()) return static_cast<double>(it->value().get_uint64());
  throw std::invalid_argument("field '" + std::string(key) + "' must be a number");
}

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (!it->value().is_string()) throw std::invalid_argument("field '" + std::string(key) + "' must be a string");
  return std::string(it->value().get_string());
}

struct ToJson {
  json::object operator()(const Progress& p) const {
    json::object metrics;
    for (const auto& [k, v] : p.metrics) metrics[k] = v;
    return {{"type", "progress"},
            {"phase", p.kind == Progress::Kind::batch ? "batch" : "epoch"},
            {"epoch", p.epoch},
            {"epochs", p.epochs},
            {"batch", p.batch},
            {"batches", p.batches},
            {"loss", p.loss},
            {"samples_per_s", p.samples_per_s},
            {"elapsed_s", p.elapsed_s},
            {"eta_s", p.eta_s},
            {"budget_left_s", p.budget_left_s},
            {"metrics", std::move(metrics)}};
  }
  json::object operator()(const Log& l) const { return {{"type", "log"}, {"message", l.message}}; }
  json::object operator()(const Result& r) const {
    return {{"type", "result"},
            {"verdict", to_string(r.verdict)},
            {"message", r.message},
            {"detail", r.detail}};
  }
  json::object operator()(const Exit& e) const {
    json::object o{{"type", "exit"}, {"cpu_s", e.cpu_s}, {"max_rss_kb", e.max_rss_kb}};
    if (e.code) o["code"] = *e.code;
    if (e.signal) o["signal"] = *e.signal;
    return o;
  }
};

Event from_object(const json::object& o) {
  const std::string type = str(o, "type");
  if (type == "progress") {
    Progress p;
    const std::string phase = str(o, "phase");
    if (phase != "batch" && phase != "epoch") throw std::invalid_argument("progress phase must be batch or epoch");
    p.kind = phase == "batch" ? Progress::Kind::batch : Progress::Kind::epoch;
    p.epoch = static_cast<int>(num(o, "epoch"));
    p.epochs = static_cast<int>(num(o, "epochs"));
    p.batch = static_cast<long long>(num(o, "batch"));
    p.batches = static_cast<long long>(num(o, "batches"));
    p.loss = num(o, "loss");
    p.samples_per_s = num(o, "samples_per_s");
    p.elapsed_s = num(o, "elapsed_s");
    p.eta_s = num(o, "eta_s", -1);
    p.budget_left_s = num(o, "budget_left_s");
    if (auto it = o.find("metrics"); it != o.end()) {
      if (!it->value().is_object()) throw std::invalid_argument("field 'metrics' must be an object");
      for (const auto& [k, v] : it->value().get_object()) {
        json::object one{{"v", v}};
        p.metrics[std::string(k)] = num(one, "v");
      }
    }
    return p;
  }
  if (type == "log") return Log{str(o, "message")};
  if (type == "result") {
    Result r;
    auto v = parse_verdict(str(o, "verdict"));
    if (!v) throw std::invalid_argument("unknown verdict '" + str(o, "verdict") + "'");
    r.verdict = *v;
    r.message = str(o, "message");
    r.detail = str(o, "detail");
    return r;
  }
  if (type == "exit") {
    Exit e;
    if (o.contains("code")) e.code = static_cast<int>(num(o, "code"));
    if (o.contains("signal")) e.signal = static_cast<int>(num(o, "signal"));
    if (e.code.has_value() == e.signal.has_value())
      throw std::invalid_argument("exit event needs exactly one of code and signal");
    e.cpu_s = num(o, "cpu_s");
    e.max_rss_kb = static_cast<long long>(num(o, "max_rss_kb"));
    return e;
  }
  throw std::invalid_argument(type.empty() ? "missing event type" : "unknown event type '" + type + "'");
}

}  // namespace

std::string to_json_line(const Event& e) { return json::serialize(std::visit(ToJson{}, e)); }

std::optional<Event> parse_line(std::string_view line, std::string* error) {
  try {
    json::error_code ec;
    json::value v = json::parse(line, ec);
    if (ec) throw std::invalid_argument("not JSON: " + ec.message());
    if (!v.is_object()) throw std::invalid_argument("an event must be a JSON object");
    return from_object(v.get_object());
  } catch (const std::exception& ex) {
    if (error) *error = ex.what();
    return std::nullopt;
  }
}

}  // namespace torchexam::events
