#include "bench_daemon.hpp"

#include "launch.hpp"
#include "protocol/messages.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iterator>
#include <stdexcept>
#include <thread>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace torchexam::bench {

BenchDaemon::BenchDaemon(const DaemonSpec& spec, fs::path root) : root_(std::move(root)) {
  fs::create_directories(root_ / "state");
  socket_ = root_ / "run" / "daemon.sock";
  log_ = root_ / "torchexamd.log";
  const std::string state = (root_ / "state").string();
  LaunchSpec l;
  l.argv = {spec.exe.string(), "--socket", socket_.string(), "--state-dir", state};
  l.argv.insert(l.argv.end(), spec.args.begin(), spec.args.end());
  l.env.emplace_back("TORCHEXAM_STATE_DIR", state);
  if (!spec.cache.empty()) l.env.emplace_back("TORCHEXAM_CACHE_DIR", spec.cache.string());
  l.env.insert(l.env.end(), spec.env.begin(), spec.env.end());
  l.unset_env = {"TORCHEXAM_SOCKET"};
  l.own_session = spec.own_session;
  l.output = log_;
  pid_ = launch(l);
}

BenchDaemon::~BenchDaemon() {
  stop(std::chrono::milliseconds(0));
  std::error_code ec;
  fs::remove_all(root_, ec);
}

std::unique_ptr<Client> BenchDaemon::connect() {
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  for (;;) {
    try {
      return Client::connect(socket_);
    } catch (const ConnectError&) {
      if (wait_exit(pid_, std::chrono::milliseconds(0))) {
        pid_ = -1;
        throw std::runtime_error("torchexamd exited at start:\n" + log_tail());
      }
      if (std::chrono::steady_clock::now() > until)
        throw std::runtime_error("torchexamd did not listen within 10 s:\n" + log_tail());
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
}

bool BenchDaemon::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return true;
  const bool clean = bench::stop(pid_, grace);
  pid_ = -1;
  return clean;
}

std::string BenchDaemon::log_tail() const {
  std::ifstream in(log_);
  std::string all((std::istreambuf_iterator<char>(in)), {});
  return all.size() > 2000 ? all.substr(all.size() - 2000) : all;
}

std::string open_practice_session(Client& c, const fs::path& source, const fs::path& workspace) {
  const json::value started =
      c.call(protocol::method::exam_start, json::object{{"environment", (source / "environments/practice").string()},
                                                        {"workspace", workspace.string()},
                                                        {"mode", "practice"}});
  return std::string(started.at("session").as_string());
}

int64_t train_reference(BenchDaemon& daemon, Client& c, const std::string& session, const fs::path& source,
                        const fs::path& workspace) {
  fs::copy_file(source / "environments/practice/fashion_mnist/reference.cpp",
                workspace / "fashion_mnist" / "solution.cpp", fs::copy_options::overwrite_existing);
  const json::value s =
      c.call(protocol::method::task_submit, json::object{{"session", session}, {"task", "fashion_mnist"}});
  const int64_t submission = s.at("submission").as_int64();
  std::string stage;
  const auto until = std::chrono::steady_clock::now() + std::chrono::minutes(5);
  while (stage != "train" && std::chrono::steady_clock::now() < until) {
    stage = drain_stage(c, submission, std::chrono::seconds(1), stage);
    const json::value st = c.call(protocol::method::exam_status, json::object{{"session", session}});
    if (st.at("queue").as_array().empty()) break;  // finished (or failed) before training began
  }
  if (stage != "train") {
    const json::value r = c.call(protocol::method::submission_get, json::object{{"submission", submission}});
    throw std::runtime_error(fmt::format("submission {} never reached training (state {}, message: {})\n{}", submission,
                                         json::serialize(r.at("state")), json::serialize(r.at("message")),
                                         daemon.log_tail()));
  }
  return submission;
}

std::string drain_stage(Client& c, int64_t id, std::chrono::milliseconds wait, std::string stage) {
  while (auto n = c.next_notification(wait)) {
    wait = std::chrono::milliseconds(1);
    if (n->method != protocol::method::submission_progress) continue;
    const auto& p = n->params.as_object();
    if (p.at("submission").as_int64() == id) stage = std::string(p.at("stage").as_string());
  }
  return stage;
}

bool job_running(const json::value& status) {
  for (const auto& q : status.at("queue").as_array())
    if (q.at("state").as_string() == "running") return true;
  return false;
}

std::string queue_text(const json::value& status) {
  std::string out;
  for (const auto& q : status.at("queue").as_array())
    out += fmt::format("{}#{} {} ", std::string(q.at("task").as_string()), q.at("submission").as_int64(),
                       std::string(q.at("state").as_string()));
  return out.empty() ? "empty" : out.substr(0, out.size() - 1);
}

}  // namespace torchexam::bench
