#include "measurement.hpp"

#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <boost/json.hpp>

#include <algorithm>
#include <numeric>

namespace json = boost::json;

namespace torchexam::bench {

std::pair<int, int> Measurement::waiting() const {
  int daemon_side = 0, bench_side = 0;
  for (int fd : fds) {
    int unread_by_daemon = 0, unread_by_us = 0;
    if (::ioctl(fd, SIOCOUTQ, &unread_by_daemon) == 0 && unread_by_daemon > 0) ++daemon_side;
    if (::ioctl(fd, SIOCINQ, &unread_by_us) == 0 && unread_by_us > 0) ++bench_side;
  }
  return {daemon_side, bench_side};
}

void Measurement::reply_arrived(std::chrono::steady_clock::time_point now) {
  if (last_reply != std::chrono::steady_clock::time_point{}) {
    const double gap = std::chrono::duration<double, std::milli>(now - last_reply).count();
    if (gap > 2.0) {
      stall_ms.push_back(gap);
      const auto [daemon_side, bench_side] = waiting();
      ++(bench_side > daemon_side ? stalls_at_bench : stalls_at_daemon);
    }
  }
  last_reply = std::chrono::steady_clock::now();
}

json::object to_json(const Measurement& m) {
  auto numbers = [](const std::vector<double>& v) { return json::value_from(v); };
  auto mean = [](const std::vector<double>& v) {
    return v.empty() ? 0.0 : std::accumulate(v.begin(), v.end(), 0.0) / static_cast<double>(v.size());
  };
  return {{"latency_ms", numbers(m.latency_ms)},
          {"noted_ms", numbers(m.noted_ms)},
          {"running", m.running},
          {"errors", m.errors},
          {"first_error", m.first_error},
          {"wall_s", m.wall_s},
          {"run_s", m.bench_thread.run_s},
          {"wait_s", m.bench_thread.wait_s},
          {"slices", m.bench_thread.slices},
          {"at_daemon", mean(m.at_daemon)},
          {"at_bench", mean(m.at_bench)},
          {"stall_ms", numbers(m.stall_ms)},
          {"stalls_at_daemon", m.stalls_at_daemon},
          {"stalls_at_bench", m.stalls_at_bench}};
}

void add(Measurement& m, const json::value& report) {
  const auto& o = report.as_object();
  auto doubles = [&](const char* key) { return json::value_to<std::vector<double>>(o.at(key)); };
  auto append = [](std::vector<double>& to, const std::vector<double>& from) {
    to.insert(to.end(), from.begin(), from.end());
  };
  append(m.latency_ms, doubles("latency_ms"));
  append(m.noted_ms, doubles("noted_ms"));
  append(m.stall_ms, doubles("stall_ms"));
  m.running += static_cast<int>(o.at("running").as_int64());
  const int errors = static_cast<int>(o.at("errors").as_int64());
  if (errors && m.errors == 0) m.first_error = std::string(o.at("first_error").as_string());
  m.errors += errors;
  m.wall_s = std::max(m.wall_s, o.at("wall_s").as_double());
  m.bench_thread.run_s += o.at("run_s").as_double();
  m.bench_thread.wait_s += o.at("wait_s").as_double();
  m.bench_thread.slices += o.at("slices").as_double();
  if (m.at_daemon.empty()) m.at_daemon = {0}, m.at_bench = {0};
  m.at_daemon[0] += o.at("at_daemon").as_double();
  m.at_bench[0] += o.at("at_bench").as_double();
  m.stalls_at_daemon += static_cast<int>(o.at("stalls_at_daemon").as_int64());
  m.stalls_at_bench += static_cast<int>(o.at("stalls_at_bench").as_int64());
}

}  // namespace torchexam::bench
