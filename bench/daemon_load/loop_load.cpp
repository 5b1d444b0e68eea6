// One thread drives every connection through one event loop (rows "loop",
// "light", and "@R" for an open loop).
//
// Closed loop (rate 0): each client has one request outstanding and sends
// the next the moment its reply lands, so the run measures the machine at
// saturation; the load generator costs a few microseconds per call instead
// of a context switch per client. Open loop (rate R > 0): each of the C
// clients sends on its own schedule, one request every C/R seconds,
// staggered so that the machine sees R requests/s in all, whether or not the
// earlier replies have arrived (a late reply does not delay the next
// request: no coordinated omission), and a call's latency runs from the time
// it was scheduled, not from when it was written.
#include "load.hpp"
#include "protocol/framing.hpp"
#include "protocol/jsonrpc.hpp"
#include "protocol/messages.hpp"
#include "support/bench_daemon.hpp"

#include <unistd.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/json.hpp>

#include <array>
#include <atomic>
#include <deque>
#include <memory>
#include <thread>

namespace asio = boost::asio;
namespace json = boost::json;

namespace torchexam::bench {
namespace {

using SteadyClock = std::chrono::steady_clock;

class LoopClient : public std::enable_shared_from_this<LoopClient> {
 public:
  LoopClient(asio::io_context& io, int calls, bool light, std::string request, Measurement& m)
      : socket_(io),
        timer_(io),
        calls_left_(calls),
        to_send_(calls),
        light_(light),
        request_(std::move(request)),
        m_(m) {}
  asio::local::stream_protocol::socket& socket() { return socket_; }

  // Closed loop when `interval` is zero; otherwise the first request goes out
  // at `first` and one more every `interval`.
  void start(SteadyClock::time_point first, SteadyClock::duration interval) {
    interval_ = interval;
    if (interval_ == SteadyClock::duration::zero()) return send(SteadyClock::now());
    next_ = first;
    receive();
    schedule();
  }

 private:
  void schedule() {
    if (to_send_ == 0) return;
    timer_.expires_at(next_);
    timer_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->calls_left_ == 0) return;
      const auto due = self->next_;
      self->next_ += self->interval_;
      self->send(due);
      self->schedule();
    });
  }
  void send(SteadyClock::time_point due) {
    --to_send_;
    due_.push_back(due);
    ++unwritten_;
    write();
  }
  // One write at a time on the socket; requests scheduled meanwhile go out
  // together after it.
  void write() {
    if (writing_ || unwritten_ == 0) return;
    writing_ = true;
    out_.clear();
    for (; unwritten_ > 0; --unwritten_) out_ += request_;
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this()](const boost::system::error_code& ec, size_t) {
                        self->writing_ = false;
                        if (ec) return self->fail(ec.message());
                        if (self->interval_ == SteadyClock::duration::zero()) return self->receive();
                        self->write();
                      });
  }
  void receive() {
    socket_.async_read_some(
        asio::buffer(buf_), [self = shared_from_this()](const boost::system::error_code& ec, size_t n) {
          if (ec) return self->fail(ec.message());
          self->reader_.feed(std::string_view(self->buf_.data(), n));
          const bool closed_loop = self->interval_ == SteadyClock::duration::zero();
          while (auto next = self->reader_.next()) {
            auto* frame = std::get_if<protocol::Frame>(&*next);
            if (!frame) return self->fail("bad framing from the daemon");
            const Reply r = self->light_ ? look_at(frame->body) : parse_reply(frame->body);
            if (r.kind == Reply::notification) {  // progress of the training job
              self->noted_ = true;
              continue;
            }
            if (self->due_.empty()) return self->fail("a reply to no request");
            const auto now = SteadyClock::now();
            self->m_.reply_arrived(now);
            const double ms = std::chrono::duration<double, std::milli>(now - self->due_.front()).count();
            self->due_.pop_front();
            self->m_.latency_ms.push_back(ms);
            if (self->noted_) self->m_.noted_ms.push_back(ms);
            self->noted_ = false;
            if (r.kind == Reply::error) {
              if (self->m_.errors++ == 0) self->m_.first_error = r.message;
            } else if (r.job_running) {
              ++self->m_.running;
            }
            if (--self->calls_left_ == 0) {
              self->timer_.cancel();
              return;
            }
            if (closed_loop) return self->send(now);
          }
          self->receive();
        });
  }
  struct Reply {
    enum Kind { notification, result, error } kind = notification;
    bool job_running = false;
    std::string message;  // of an error
  };
  static Reply parse_reply(const std::string& body) {
    // The DOM of a 2 KB status reply fits in a buffer on the stack: no
    // malloc per node (Boost.JSON's monotonic_resource), as a client that
    // parses many small messages would do it.
    alignas(std::max_align_t) unsigned char buffer[32768];
    json::monotonic_resource arena(buffer, sizeof buffer);
    json::value v = json::parse(body, &arena);
    const auto& obj = v.as_object();
    if (!obj.contains("id")) return {};
    if (obj.contains("error")) return {Reply::error, false, json::serialize(obj.at("error"))};
    return {Reply::result, job_running(obj.at("result")), ""};
  }
  // What parse_reply finds, from the bytes alone: the daemon writes
  // {"jsonrpc":"2.0","id":1,"result":{...,"queue":[{...,"state":"running",...}],...}}
  // (docs/protocol.md: field order and spelling are fixed), and anything
  // else gets a full parse.
  static Reply look_at(const std::string& body) {
    constexpr std::string_view result_head = R"({"jsonrpc":"2.0","id":1,"result":{)";
    if (body.compare(0, result_head.size(), result_head) != 0) return parse_reply(body);
    Reply r{Reply::result, false, ""};
    const size_t queue = body.find(R"("queue":[)", result_head.size());
    if (queue == std::string::npos) return parse_reply(body);
    const size_t end = body.find(']', queue);
    const size_t running = body.find(R"("state":"running")", queue);
    r.job_running = running != std::string::npos && running < end;
    return r;
  }
  void fail(const std::string& why) {
    if (calls_left_ == 0) return;
    if (m_.errors == 0) m_.first_error = why;
    m_.errors += calls_left_;
    calls_left_ = 0;
    timer_.cancel();
  }

  asio::local::stream_protocol::socket socket_;
  asio::steady_timer timer_;
  int calls_left_;  // replies still to come
  int to_send_;     // requests not yet scheduled
  bool light_;
  std::string request_;
  Measurement& m_;
  SteadyClock::duration interval_{};
  SteadyClock::time_point next_;             // open loop: when the next request is due
  std::deque<SteadyClock::time_point> due_;  // when each outstanding request was due, oldest first
  int unwritten_ = 0;                        // requests due but not yet handed to a write
  bool writing_ = false;
  std::string out_;  // the bytes of the write in flight
  protocol::FrameReader reader_;
  std::array<char, 65536> buf_;
  bool noted_ = false;
};

}  // namespace

Measurement measure_loop(const LoadTarget& t, bool light, double rate, Share share,
                         const std::function<void()>& ready) {
  asio::io_context io;
  Measurement m;
  m.latency_ms.reserve(static_cast<size_t>(t.clients) * t.calls);
  const std::string request = protocol::encode_frame(
      protocol::make_request(1, protocol::method::exam_status, json::object{{"session", t.session}}));
  std::vector<std::shared_ptr<LoopClient>> clients;
  std::vector<int> numbers;  // each client's number among the C
  for (int i = share.index; i < t.clients; i += share.count) {
    auto c = std::make_shared<LoopClient>(io, t.calls, light, request, m);
    c->socket().connect(asio::local::stream_protocol::endpoint(t.socket.string()));
    clients.push_back(std::move(c));
    numbers.push_back(i);
  }
  if (ready) ready();
  for (auto& c : clients) m.fds.push_back(c->socket().native_handle());
  const pid_t self = ::getpid(), thread = static_cast<pid_t>(::gettid());
  const SchedStat before = sched_stat(self, thread);
  const auto start = SteadyClock::now();
  // Open loop: client i's requests are due at start + (i + k * C) / R.
  const auto interval = rate > 0 ? std::chrono::duration_cast<SteadyClock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(t.clients) / rate))
                                 : SteadyClock::duration::zero();
  for (size_t i = 0; i < clients.size(); ++i)
    clients[i]->start(start + interval * static_cast<int64_t>(numbers[i]) / static_cast<int64_t>(t.clients), interval);
  // Little's law per stage: the share of the outstanding requests that wait
  // at the daemon is the share of the latency spent there. SIOCOUTQ on a
  // Unix stream socket counts bytes sent and not yet read by the peer.
  std::atomic<bool> done{false};
  std::thread sampler([&] {
    while (!done.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
      const auto [daemon_side, bench_side] = m.waiting();
      if (done.load()) break;
      m.at_daemon.push_back(daemon_side);
      m.at_bench.push_back(bench_side);
    }
  });
  io.run();
  m.wall_s = std::chrono::duration<double>(SteadyClock::now() - start).count();
  done = true;
  sampler.join();
  m.bench_thread = sched_stat(self, thread) - before;
  return m;
}

}  // namespace torchexam::bench
