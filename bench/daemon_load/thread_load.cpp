// A thread and a blocking Client per connection: simple, but on a small
// machine the load generator's own threads compete with the daemon for the
// cores (rows "threads").
#include "client/client.hpp"
#include "load.hpp"
#include "protocol/messages.hpp"
#include "support/bench_daemon.hpp"

#include <latch>
#include <thread>

namespace json = boost::json;

namespace torchexam::bench {

Measurement measure_threads(const LoadTarget& t) {
  using SteadyClock = std::chrono::steady_clock;
  // Every client connects first; the clock starts when all are connected.
  std::vector<Measurement> results(t.clients);
  std::latch ready(t.clients), go(1);
  std::vector<std::thread> threads;
  threads.reserve(t.clients);
  for (int i = 0; i < t.clients; ++i) {
    threads.emplace_back([&, i] {
      Measurement& r = results[i];
      r.latency_ms.reserve(t.calls);
      std::unique_ptr<Client> c;
      for (int attempt = 0; !c && attempt < 50; ++attempt) {
        try {
          c = Client::connect(t.socket);
        } catch (const ConnectError& e) {
          r.first_error = e.what();
          std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
      }
      ready.count_down();
      go.wait();
      if (!c) {
        r.errors = t.calls;
        return;
      }
      const json::value params = json::object{{"session", t.session}};
      for (int k = 0; k < t.calls; ++k) {
        const auto t0 = SteadyClock::now();
        try {
          json::value st = c->call(protocol::method::exam_status, params);
          r.latency_ms.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
          if (job_running(st)) ++r.running;
        } catch (const std::exception& e) {
          if (r.errors++ == 0) r.first_error = e.what();
          if (dynamic_cast<const protocol::RpcError*>(&e) == nullptr) {
            r.errors += t.calls - k - 1;  // the connection is gone
            break;
          }
        }
      }
    });
  }
  ready.wait();
  const auto start = SteadyClock::now();
  go.count_down();
  for (auto& th : threads) th.join();
  Measurement out;
  out.wall_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  for (auto& r : results) {
    out.latency_ms.insert(out.latency_ms.end(), r.latency_ms.begin(), r.latency_ms.end());
    out.running += r.running;
    out.errors += r.errors;
    if (out.first_error.empty()) out.first_error = r.first_error;
  }
  return out;
}

}  // namespace torchexam::bench
