// The hostile suite, end to end through `torchexam grade`: every attack in
// tests/hostile/attacks.cpp, one solution compiled once, graded once per
// attack. Each case holds the job at the start of train(), looks at it from
// outside as the kernel shows it (namespaces, seccomp mode, uid, rlimits,
// cgroup limits and membership: kernel_view.hpp), releases it with the
// attack to run, then asserts the verdict, that nothing of the job survives
// (its PID namespace and cgroups are empty), that nothing outside the job
// directory changed, and that the harness still grades the next job (the
// control case, last). A case that never sees its job held fails: no check
// here passes on a view of nothing. The suite runs twice (tests/CMakeLists.txt):
// hostile.* with runners forked from a warm runner (the default),
// hostile_fresh.* with fresh runner processes; each case checks which.
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "../unit/idx_writer.hpp"  // temp_dir
#include "base/hash.hpp"
#include "config/config.hpp"
#include "e2e_util.hpp"
#include "hostile_util.hpp"
#include "kernel_view.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <future>
#include <map>
#include <set>
#include <string>
#include <thread>

using namespace torchexam::e2e;
using torchexam::test::KernelView;
using torchexam::test::wait_for;

namespace {

// Host files an attack may try to create or change.
const char* const kMustNotExist[] = {"/tmp/torchexam-hostile-pwned", "/root/torchexam-hostile-pwned",
                                     "/usr/lib/torchexam-hostile-pwned"};
const char* const kMustNotChange[] = {"/etc/passwd", "/etc/shadow"};

std::string fingerprint(const fs::path& p) {
  try {
    return torchexam::sha256_hex(torchexam::read_file(p));
  } catch (const std::exception&) {
    return "unreadable";
  }
}

// Listeners the network attacks aim at; each counts connections accepted.
class Listener {
 public:
  explicit Listener(int fd) : fd_(fd) {
    if (fd_ >= 0) {
      listen(fd_, 16);
      fcntl(fd_, F_SETFL, O_NONBLOCK);
    }
  }
  ~Listener() {
    if (fd_ >= 0) close(fd_);
  }
  int accepted() const {
    int n = 0;
    for (int c; fd_ >= 0 && (c = accept(fd_, nullptr, nullptr)) >= 0; ++n) close(c);
    return n;
  }
  bool ok() const { return fd_ >= 0; }

 private:
  int fd_;
};

int tcp_listener() {
  int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(47611);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
    close(s);
    return -1;
  }
  return s;
}

int unix_listener(bool abstract) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  socklen_t len = sizeof a;
  if (abstract) {
    const char* name = "torchexam-hostile-abstract";
    std::memcpy(a.sun_path + 1, name, std::strlen(name));
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + std::strlen(name));
  } else {
    unlink("/tmp/torchexam-hostile.sock");
    std::strcpy(a.sun_path, "/tmp/torchexam-hostile.sock");
  }
  if (bind(s, reinterpret_cast<sockaddr*>(&a), len) != 0) {
    close(s);
    return -1;
  }
  return s;
}

struct Expect {
  std::set<std::string> verdicts;
  std::string message;  // a part the message must contain ("" for any)
};

// The layers a job must have on this machine, from the kernel's view of
// this host (never from the sandbox's probe): as root, the namespaces,
// seccomp, rlimits and the unprivileged uid, and the memory and pids
// cgroups when this host mounts those controllers.
std::set<std::string> required_layers() {
  std::set<std::string> out = {"pid_namespace", "mount_namespace", "network_namespace",
                               "seccomp",       "rlimits",         "unprivileged_uid"};
  if (torchexam::test::kernel::hierarchy_of("memory")) out.insert("cgroup_memory");
  if (torchexam::test::kernel::hierarchy_of("pids")) out.insert("cgroup_pids");
  return out;
}

// The task's memory limit as environment.yaml's task states it.
uint64_t task_memory_limit() {
  const auto env = torchexam::config::load_environment(kSource / "environments/practice");
  return env.find_task("fashion_mnist")->memory_limit_bytes;
}

// Asserts the kernel's view of the held job against what this machine
// requires and against what the harness reported for the job.
void check_view(const KernelView& view, const json::object& result) {
  const std::set<std::string> seen = view.layers();
  std::string seen_text;
  for (const auto& l : seen) seen_text += " " + l;
  INFO("in force on pid " << view.pid << " (kernel view):" << seen_text);
  REQUIRE_FALSE(view.status.empty());  // the process was there to look at
  for (const auto& layer : required_layers()) CHECK_MESSAGE(seen.count(layer) == 1, layer << " is not in force");
  // The limits in force are the task's, as the harness says it set them.
  const json::object& limits = result.at("limits").as_object();
  if (view.memory_limit) {
    CHECK(*view.memory_limit == limits.at("memory_bytes").to_number<uint64_t>());
    CHECK(*view.memory_limit == task_memory_limit());
  }
  if (view.pids_max) CHECK(*view.pids_max == limits.at("max_pids").to_number<uint64_t>());
  // The job's report names exactly the layers the kernel shows (Landlock
  // has no outside view).
  std::set<std::string> reported;
  for (const auto& l : result.at("sandbox").at("layers").as_array()) reported.insert(std::string(l.as_string()));
  reported.erase("landlock");
  reported.erase("landlock_network");
  for (const auto& l : reported) CHECK_MESSAGE(seen.count(l) == 1, "reported " << l << ", not in force");
  for (const auto& l : seen) CHECK_MESSAGE(reported.count(l) == 1, l << " in force, not reported");
}

json::object attack(const std::string& name, const Expect& expect, std::vector<std::string> extra = {}) {
  if (geteuid() != 0) torchexam::test::skip_test("the hostile suite checks the full sandbox, which needs root here");
  for (const char* p : kMustNotExist) fs::remove(p);
  std::map<std::string, std::string> before;
  for (const char* p : kMustNotChange) before[p] = fingerprint(p);

  std::vector<std::string> args{"--limit", "300"};
  if (std::find(extra.begin(), extra.end(), "--budget") == extra.end()) args.insert(args.end(), {"--budget", "20"});
  args.insert(args.end(), extra.begin(), extra.end());
  const int number = attack_number(name);
  auto graded = std::async(std::launch::async, [&] { return grade(hostile_solution(), args); });

  // The job, held at the start of train() (after the build: minutes at most).
  std::vector<std::pair<int, int>> held;
  const bool found = wait_for(
      [&] {
        held = torchexam::test::kernel::threads_named("texam_held", getpid());
        return !held.empty() || graded.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
      },
      std::chrono::seconds(240));
  CHECK_MESSAGE(found, "the job was never held");
  CHECK_MESSAGE(held.size() == 1, held.size() << " held threads");
  KernelView view;
  int job_ns_fd = -1;  // keeps the job's PID namespace, so its inode is not reused by another job's
  if (!held.empty()) {
    view = torchexam::test::look_at(held.front().first);
    // The path under test: forked from a warm runner, or a fresh process
    // (TORCHEXAM_WARM_RUNNER, tests/CMakeLists.txt).
    CHECK_MESSAGE((zygote_of(held.front().first) != 0) == warm_runner_on(),
                  "the job was " << (warm_runner_on() ? "not " : "") << "forked from a warm runner");
    job_ns_fd = open(("/proc/" + std::to_string(held.front().first) + "/ns/pid").c_str(), O_RDONLY | O_CLOEXEC);
    CHECK(release(held.front().first, held.front().second, number));
  }
  Graded g = graded.get();
  const std::string verdict = str(g.result, "verdict"), message = str(g.result, "message");
  INFO("attack " << name << ": " << verdict << ": " << message);
  REQUIRE_MESSAGE(!held.empty(), "the job was never held: nothing of it was seen from outside");
  check_view(view, g.result);
  CHECK(expect.verdicts.count(verdict) == 1);
  CHECK(message.find("ESCAPED") == std::string::npos);
  CHECK(message.find("HELD") == std::string::npos);
  if (!expect.message.empty()) CHECK(message.find(expect.message) != std::string::npos);

  // Nothing of the job survives: its PID namespace and its cgroups are empty.
  CHECK(wait_for([] { return processes_named("texam_hostile").empty(); }, std::chrono::seconds(5)));
  for (int pid : processes_named("texam_hostile")) kill(pid, SIGKILL);
  const ino_t job_ns = view.ns["pid"];
  struct stat ns_stat {};
  CHECK((job_ns_fd >= 0 && fstat(job_ns_fd, &ns_stat) == 0 && ns_stat.st_ino == job_ns));
  CHECK(job_ns != view.own_ns["pid"]);
  CHECK(wait_for([&] { return torchexam::test::processes_in_namespace(job_ns) == 0; }, std::chrono::seconds(5)));
  if (job_ns_fd >= 0) close(job_ns_fd);
  for (const auto& group : {view.memory_cgroup, view.pids_cgroup})
    CHECK_MESSAGE(wait_for([&] { return torchexam::test::processes_in_cgroup(group) == 0; }, std::chrono::seconds(5)),
                  group << " still holds processes");
  // Nothing outside the job directory changed.
  for (const char* p : kMustNotExist) CHECK_MESSAGE(!fs::exists(p), p << " was created");
  for (const char* p : kMustNotChange) CHECK_MESSAGE(fingerprint(p) == before[p], p << " changed");
  const fs::path job = std::string(g.result.at("job_dir").as_string());
  CHECK_FALSE(fs::exists(job / "torchexam-hostile-pwned"));
  return g.result;
}

const Expect ok{{"ok"}, ""};

}  // namespace

TEST_SUITE("hostile") {
  TEST_CASE("hostile.spin_one: spin forever on one thread") {
    attack("spin_one", {{"timeout"}, "did not finish"}, {"--budget", "3"});
  }
  TEST_CASE("hostile.spin_many: spin forever on many threads") {
    attack("spin_many", {{"timeout", "cpu_limit"}, ""}, {"--budget", "3"});
  }
  TEST_CASE("hostile.ignore_sigterm: sleep ignoring SIGTERM") {
    attack("ignore_sigterm", {{"timeout"}, ""}, {"--budget", "3"});
  }
  TEST_CASE("hostile.fork_bomb: fork bomb") {
    attack("fork_bomb", {{"timeout", "killed", "cpu_limit"}, ""}, {"--budget", "3"});
  }
  TEST_CASE("hostile.thread_bomb: thread bomb") { attack("thread_bomb", {{"killed"}, "process/thread limit"}); }
  TEST_CASE("hostile.touch_50g: touch 50 GB") { attack("touch_50g", {{"memory_limit"}, "memory limit"}); }
  TEST_CASE("hostile.reserve_50g: reserve 50 GB without touching it") { attack("reserve_50g", ok); }
  TEST_CASE("hostile.fill_scratch: fill the scratch directory") {
    attack("fill_scratch", {{"runtime_error"}, "scratch full"});
  }
  TEST_CASE("hostile.many_files: create 100k files") {
    attack("many_files", {{"runtime_error"}, "files before a limit"});
  }
  TEST_CASE("hostile.many_fds: open 100k descriptors") { attack("many_fds", {{"runtime_error"}, "descriptor limit"}); }
  TEST_CASE("hostile.flood_stdout: flood stdout with 10 GB") { attack("flood_stdout", {{"output_limit"}, ""}); }
  TEST_CASE("hostile.tcp_loopback: TCP to 127.0.0.1") {
    Listener l(tcp_listener());
    REQUIRE(l.ok());
    attack("tcp_loopback", ok);
    CHECK(l.accepted() == 0);
  }
  TEST_CASE("hostile.dns: DNS") { attack("dns", ok); }
  TEST_CASE("hostile.abstract_unix: abstract Unix socket") {
    Listener l(unix_listener(true));
    REQUIRE(l.ok());
    attack("abstract_unix", ok);
    CHECK(l.accepted() == 0);
  }
  TEST_CASE("hostile.path_unix: Unix socket at a path") {
    Listener l(unix_listener(false));
    REQUIRE(l.ok());
    attack("path_unix", ok);
    CHECK(l.accepted() == 0);
    unlink("/tmp/torchexam-hostile.sock");
  }
  TEST_CASE("hostile.netlink: netlink") { attack("netlink", ok); }
  TEST_CASE("hostile.read_shadow: read /etc/shadow") { attack("read_shadow", ok); }
  TEST_CASE("hostile.read_passwd: the host's accounts in /etc/passwd") { attack("read_passwd", ok); }
  TEST_CASE("hostile.proc_spy: the daemon's and the harness's /proc entries") { attack("proc_spy", ok); }
  TEST_CASE("hostile.labels_by_path: the hidden labels by path") { attack("labels_by_path", ok); }
  TEST_CASE("hostile.labels_by_dotdot: the hidden labels through ../") { attack("labels_by_dotdot", ok); }
  TEST_CASE("hostile.labels_by_symlink: the hidden labels through a symlink") { attack("labels_by_symlink", ok); }
  TEST_CASE("hostile.inherited_fd: the hidden labels through an inherited descriptor") {
    // This process (and so the CLI and the runner) holds the labels open.
    int fd = open("/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz", O_RDONLY);
    REQUIRE(fd >= 0);
    attack("inherited_fd", ok);
    close(fd);
  }
  TEST_CASE("hostile.write_outside: write outside the job directory") { attack("write_outside", ok); }
  TEST_CASE("hostile.symlink_output: a symlinked output") {
    // The runner replaces the link with the real checkpoint (write to a
    // temporary file, rename) or refuses it; it never writes through it.
    auto r = attack("symlink_output", {{"ok", "forbidden", "runtime_error"}, ""});
    const fs::path checkpoint = fs::path(std::string(r.at("job_dir").as_string())) / "train" / "checkpoint.pt";
    if (str(r, "verdict") == "ok") CHECK(fs::is_regular_file(fs::symlink_status(checkpoint)));
  }
  TEST_CASE("hostile.setsid_daemon: a double-fork setsid daemon") { attack("setsid_daemon", ok); }
  TEST_CASE("hostile.kill_all: kill(-1)") {
    // A process of ours the job must not reach.
    pid_t canary = fork();
    REQUIRE(canary >= 0);
    if (canary == 0) {
      pause();
      _exit(0);
    }
    attack("kill_all", ok);
    CHECK(kill(canary, 0) == 0);
    kill(canary, SIGKILL);
    waitpid(canary, nullptr, 0);
  }
  TEST_CASE("hostile.kill_parent: killing the parent") { attack("kill_parent", ok); }
  TEST_CASE("hostile.ptrace: ptrace") { attack("ptrace", {{"forbidden"}, "disallowed system call"}); }
  TEST_CASE("hostile.unshare: unshare") { attack("unshare", {{"forbidden"}, "disallowed system call"}); }
  TEST_CASE("hostile.mount: mount") { attack("mount", {{"forbidden"}, "disallowed system call"}); }
  TEST_CASE("hostile.bpf: bpf") { attack("bpf", {{"forbidden"}, "disallowed system call"}); }
  TEST_CASE("hostile.fake_verdict: a fake verdict on stdout and the event pipe") {
    attack("fake_verdict", {{"runtime_error"}, "the real failure"});
  }
  TEST_CASE("hostile.forged_internal_error: a forged harness fault on the event pipe, then honest training") {
    attack("forged_internal_error", {{"runtime_error"}, "only the harness's trusted side"});
  }
  TEST_CASE("hostile.forged_predictions: a malformed predictions file, a forged ok and _exit(0) at evaluation") {
    attack("forged_predictions", {{"runtime_error"}, "malformed predictions file"});
  }
  TEST_CASE("hostile.huge_message: a 3 MB exception message") {
    auto r = attack("huge_message", {{"runtime_error"}, "huge message begins"});
    const std::string message = str(r, "message");
    CHECK(message.find("bytes omitted") != std::string::npos);
    CHECK(message.find("huge message ends") != std::string::npos);
    CHECK(message.size() < 64 * 1024);
  }
  TEST_CASE("hostile.timeout_checkpoint: a timeout after ctx.checkpoint() grades that checkpoint") {
    auto r = attack("timeout_checkpoint", {{"timeout"}, "graded the last checkpoint"}, {"--budget", "5"});
    CHECK(r.at("metric").is_number());  // scored, on whatever rung of the ladder it reached
    // The real figures of the killed job, not zeros.
    CHECK(r.at("train_cpu_s").to_number<double>() > 0.3);
    CHECK(r.at("peak_memory_bytes").to_number<uint64_t>() > (20u << 20));
  }
  TEST_CASE("hostile.abort_late: SIGABRT after training reports the job's real CPU time and memory") {
    auto r = attack("abort_late", {{"killed"}, "SIGABRT"});
    CHECK(r.at("train_cpu_s").to_number<double>() > 0.3);
    CHECK(r.at("peak_memory_bytes").to_number<uint64_t>() >=
          static_cast<uint64_t>(r.at("train_max_rss_kb").to_number<int64_t>()) * 1024);
    CHECK(r.at("peak_memory_bytes").to_number<uint64_t>() > (20u << 20));
  }
  TEST_CASE("hostile.many_threads: set_num_threads(64) runs on the task's CPUs only, and the log says so") {
    auto r = attack("many_threads", ok, {"--threads", "1"});
    std::string log;
    for (const auto& l : r.at("log").as_array()) log += std::string(l.as_string()) + "\n";
    INFO(log);
    CHECK(log.find("cpus=1\n") != std::string::npos);
    CHECK(log.find("the solution set 64 LibTorch threads") != std::string::npos);
  }
  TEST_CASE("hostile.spoofed_exit: a spoofed exit code") { attack("spoofed_exit", {{"killed"}, "SIGSEGV"}); }
  TEST_CASE("hostile.malicious_model: a malicious saved model for evaluation") {
    const fs::path dir = torchexam::test::temp_dir("hostile-model");
    {  // A zip's signature and then garbage: the loader must fail cleanly.
      std::ofstream out(dir / "model.pt", std::ios::binary);
      out << "PK\x03\x04" << std::string(4096, '\xff');
    }
    Graded g = grade(dir / "model.pt", {"--limit", "300"});
    INFO(str(g.result, "message"));
    CHECK(str(g.result, "verdict") == "runtime_error");
    fs::remove_all(dir);
  }
  TEST_CASE("hostile.include_files: #include of /etc/shadow and of the hidden labels at compile time") {
    const fs::path dir = torchexam::test::temp_dir("hostile-include");
    for (const char* target : {"/etc/shadow", "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz"}) {
      CAPTURE(target);
      {
        std::ofstream out(dir / "solution.cpp");
        out << "#include \"" << target << "\"\n";
      }
      Graded g = grade(dir / "solution.cpp", {"--limit", "300"});
      CHECK(str(g.result, "verdict") == "compile_error");
      // The compiler never saw the file: nothing of it can appear in a diagnostic.
      const std::string message = str(g.result, "message");
      CHECK_MESSAGE((message.find("No such file or directory") != std::string::npos ||  // g++
                     message.find("file not found") != std::string::npos),              // clang
                    message);
      CHECK(json::serialize(g.result).find("root:") == std::string::npos);
    }
    fs::remove_all(dir);
  }
  TEST_CASE("hostile.control: the control, an honest job with every layer on") {
    // attack() has checked every layer this machine requires in force, as
    // the kernel shows it, and the job's report against that view.
    auto r = attack("control", ok);
    CHECK(r.at("sandbox").at("layers").as_array().size() >= required_layers().size());
  }
}
