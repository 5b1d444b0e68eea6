#include "sandbox/events.hpp"

#include "sandbox/text.hpp"

#include <boost/json.hpp>

#include <cmath>
#include <limits>

namespace torchexam::events {
namespace json = boost::json;

namespace {

// JSON has no NaN or infinity: they travel as null (a diverging loss is NaN).
json::value real(double v) { return std::isfinite(v) ? json::value(v) : json::value(nullptr); }

double num(const json::object& o, std::string_view key, double fallback = 0) {
  auto it = o.find(key);
  if (it == o.end()) return fallback;
  if (it->value().is_null()) return std::numeric_limits<double>::quiet_NaN();
  if (it->value().is_double()) return it->value().get_double();
  if (it->value().is_int64()) return static_cast<double>(it->value().get_int64());
  if (it->value().is_uint64()) return static_cast<double>(it->value().get_uint64());
  throw std::invalid_argument("field '" + std::string(key) + "' must be a number");
}

// A whole number in [lo, hi]; hostile values never reach an undefined cast.
long long integer(const json::object& o, std::string_view key, long long lo, long long hi) {
  const double v = num(o, key);
  if (!std::isfinite(v) || v < static_cast<double>(lo) || v > static_cast<double>(hi))
    throw std::invalid_argument("field '" + std::string(key) + "' must be a whole number in [" + std::to_string(lo) +
                                ", " + std::to_string(hi) + "]");
  return static_cast<long long>(v);
}

constexpr long long kIntMax = std::numeric_limits<int>::max();
constexpr long long kCountMax = 1LL << 53;

std::string str(const json::object& o, std::string_view key) {
  auto it = o.find(key);
  if (it == o.end()) return {};
  if (!it->value().is_string()) throw std::invalid_argument("field '" + std::string(key) + "' must be a string");
  return std::string(it->value().get_string());
}

struct ToJson {
  json::object operator()(const Progress& p) const {
    json::object metrics;
    for (const auto& [k, v] : p.metrics) metrics[to_valid_utf8(k)] = real(v);
    return {{"type", "progress"},
            {"phase", p.kind == Progress::Kind::batch ? "batch" : "epoch"},
            {"epoch", p.epoch},
            {"epochs", p.epochs},
            {"batch", p.batch},
            {"batches", p.batches},
            {"loss", real(p.loss)},
            {"samples_per_s", real(p.samples_per_s)},
            {"elapsed_s", real(p.elapsed_s)},
            {"eta_s", real(p.eta_s)},
            {"budget_left_s", real(p.budget_left_s)},
            {"metrics", std::move(metrics)}};
  }
  json::object operator()(const Log& l) const { return {{"type", "log"}, {"message", to_valid_utf8(l.message)}}; }
  json::object operator()(const Result& r) const {
    return {{"type", "result"},
            {"verdict", to_string(r.verdict)},
            {"message", to_valid_utf8(r.message)},
            {"detail", to_valid_utf8(r.detail)}};
  }
  json::object operator()(const Sandbox& s) const {
    json::array layers, notes;
    for (const auto& l : s.layers) layers.push_back(json::string(to_valid_utf8(l)));
    for (const auto& n : s.notes) notes.push_back(json::string(to_valid_utf8(n)));
    return {{"type", "sandbox"}, {"layers", std::move(layers)}, {"notes", std::move(notes)}};
  }
  json::object operator()(const Platform& p) const {
    return {{"type", "platform"},
            {"libtorch", {{"version", to_valid_utf8(p.libtorch_version)},
                          {"cxx11_abi", p.cxx11_abi},
                          {"parallel", to_valid_utf8(p.parallel)}}},
            {"blas", {{"path", to_valid_utf8(p.blas_path)}, {"version", to_valid_utf8(p.blas_version)}}},
            {"threads", p.threads},
            {"interop_threads", p.interop_threads},
            {"deterministic", p.deterministic}};
  }
  json::object operator()(const Exit& e) const {
    json::object o{{"type", "exit"}, {"cpu_s", real(e.cpu_s)}, {"max_rss_kb", e.max_rss_kb}};
    if (e.code) o["code"] = *e.code;
    if (e.signal) o["signal"] = *e.signal;
    if (e.timed_out) o["timed_out"] = true;
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
    p.epoch = static_cast<int>(integer(o, "epoch", 0, kIntMax));
    p.epochs = static_cast<int>(integer(o, "epochs", 0, kIntMax));
    p.batch = integer(o, "batch", 0, kCountMax);
    p.batches = integer(o, "batches", 0, kCountMax);
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
  if (type == "sandbox") {
    Sandbox s;
    auto strings = [&](const char* key, std::vector<std::string>& out) {
      auto it = o.find(key);
      if (it == o.end()) return;
      if (!it->value().is_array()) throw std::invalid_argument(std::string("field '") + key + "' must be an array");
      for (const auto& v : it->value().get_array()) {
        if (!v.is_string()) throw std::invalid_argument(std::string("field '") + key + "' must hold strings");
        if (out.size() >= 64) throw std::invalid_argument(std::string("field '") + key + "' is too long");
        out.emplace_back(v.get_string());
      }
    };
    strings("layers", s.layers);
    strings("notes", s.notes);
    return s;
  }
  if (type == "platform") {
    // Bounded like every hostile line: short strings, small thread counts.
    auto inner = [&](const char* key) -> const json::object& {
      static const json::object empty;
      auto it = o.find(key);
      if (it == o.end()) return empty;
      if (!it->value().is_object()) throw std::invalid_argument(std::string("field '") + key + "' must be an object");
      return it->value().get_object();
    };
    auto text = [](const json::object& from, const char* key) {
      std::string s = str(from, key);
      if (s.size() > 4096) throw std::invalid_argument(std::string("field '") + key + "' is too long");
      return s;
    };
    auto flag = [](const json::object& from, const char* key) {
      auto it = from.find(key);
      if (it == from.end()) return false;
      if (!it->value().is_bool()) throw std::invalid_argument(std::string("field '") + key + "' must be true or false");
      return it->value().get_bool();
    };
    Platform p;
    const auto& torch = inner("libtorch");
    p.libtorch_version = text(torch, "version");
    p.cxx11_abi = flag(torch, "cxx11_abi");
    p.parallel = text(torch, "parallel");
    const auto& blas = inner("blas");
    p.blas_path = text(blas, "path");
    p.blas_version = text(blas, "version");
    p.threads = static_cast<int>(integer(o, "threads", 0, 4096));
    p.interop_threads = static_cast<int>(integer(o, "interop_threads", 0, 4096));
    p.deterministic = flag(o, "deterministic");
    return p;
  }
  if (type == "exit") {
    Exit e;
    if (o.contains("code")) e.code = static_cast<int>(integer(o, "code", 0, 255));
    if (o.contains("signal")) e.signal = static_cast<int>(integer(o, "signal", 1, 64));
    if (e.code.has_value() == e.signal.has_value())
      throw std::invalid_argument("exit event needs exactly one of code and signal");
    e.cpu_s = num(o, "cpu_s");
    e.max_rss_kb = integer(o, "max_rss_kb", 0, kCountMax);
    if (auto it = o.find("timed_out"); it != o.end()) {
      if (!it->value().is_bool()) throw std::invalid_argument("field 'timed_out' must be true or false");
      e.timed_out = it->value().get_bool();
    }
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
