// The hostile suite, end to end through `torchexam grade`: every attack in
// tests/hostile/attacks.cpp is compiled as a candidate solution and graded.
// Each case asserts the verdict, that no process of the job survives, that
// nothing outside the job directory changed, and that the harness still
// grades the next job (the control case, last).
#include <doctest/doctest.h>

#include "../test_util.hpp"
#include "../unit/idx_writer.hpp"  // temp_dir
#include "base/hash.hpp"
#include "e2e_util.hpp"
#include "sandbox/layers.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

using namespace torchexam::e2e;
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

// Processes left in job cgroups whose supervisor is gone (other tests may
// run jobs at the same time: their supervisors are alive).
int processes_in_job_cgroups() {
  int n = 0;
  for (const char* root : {"/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids", "/sys/fs/cgroup/unified"}) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(root, fs::directory_options::skip_permission_denied, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (name.rfind("torchexam-job-", 0) != 0) continue;
      it.disable_recursion_pending();
      if (kill(std::atoi(name.c_str() + 14), 0) == 0) continue;  // its supervisor still runs
      std::ifstream procs(it->path() / "cgroup.procs");
      for (int pid; procs >> pid;) ++n;
      it.disable_recursion_pending();
    }
  }
  return n;
}

struct Expect {
  std::set<std::string> verdicts;
  std::string message;  // a part the message must contain ("" for any)
};

json::object attack(const std::string& name, const Expect& expect, std::vector<std::string> extra = {}) {
  for (const char* p : kMustNotExist) fs::remove(p);
  std::map<std::string, std::string> before;
  for (const char* p : kMustNotChange) before[p] = fingerprint(p);

  const fs::path dir = torchexam::test::temp_dir("hostile-" + name);
  const fs::path source = dir / (name + ".cpp");
  {
    std::string upper = name;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    std::ofstream out(source);
    out << "#define ATTACK_" << upper << "\n" << torchexam::read_file(kSource / "tests/hostile/attacks.cpp");
  }
  std::vector<std::string> args{"--limit", "300"};
  if (std::find(extra.begin(), extra.end(), "--budget") == extra.end()) args.insert(args.end(), {"--budget", "20"});
  args.insert(args.end(), extra.begin(), extra.end());
  Graded g = grade(source, args);
  const std::string verdict = str(g.result, "verdict"), message = str(g.result, "message");
  INFO("attack " << name << ": " << verdict << ": " << message);
  CHECK(expect.verdicts.count(verdict) == 1);
  CHECK(message.find("ESCAPED") == std::string::npos);
  if (!expect.message.empty()) CHECK(message.find(expect.message) != std::string::npos);

  // Nothing of the job survives.
  CHECK(wait_for([] { return processes_named("texam_hostile").empty(); }, std::chrono::seconds(5)));
  for (int pid : processes_named("texam_hostile")) kill(pid, SIGKILL);
  CHECK(wait_for([] { return processes_in_job_cgroups() == 0; }, std::chrono::seconds(5)));
  // Nothing outside the job directory changed.
  for (const char* p : kMustNotExist) CHECK_MESSAGE(!fs::exists(p), p << " was created");
  for (const char* p : kMustNotChange) CHECK_MESSAGE(fingerprint(p) == before[p], p << " changed");
  const fs::path job = std::string(g.result.at("job_dir").as_string());
  CHECK_FALSE(fs::exists(job / "torchexam-hostile-pwned"));
  fs::remove_all(dir);
  return g.result;
}

const Expect ok{{"ok"}, ""};

}  // namespace

TEST_SUITE("hostile") {
  TEST_CASE("hostile.spin_one: spin forever on one thread") { attack("spin_one", {{"timeout"}, "did not finish"}, {"--budget", "3"}); }
  TEST_CASE("hostile.spin_many: spin forever on many threads") { attack("spin_many", {{"timeout", "cpu_limit"}, ""}, {"--budget", "3"}); }
  TEST_CASE("hostile.ignore_sigterm: sleep ignoring SIGTERM") { attack("ignore_sigterm", {{"timeout"}, ""}, {"--budget", "3"}); }
  TEST_CASE("hostile.fork_bomb: fork bomb") { attack("fork_bomb", {{"timeout", "killed", "cpu_limit"}, ""}, {"--budget", "3"}); }
  TEST_CASE("hostile.thread_bomb: thread bomb") { attack("thread_bomb", {{"killed"}, "process/thread limit"}); }
  TEST_CASE("hostile.touch_50g: touch 50 GB") { attack("touch_50g", {{"memory_limit"}, "memory limit"}); }
  TEST_CASE("hostile.reserve_50g: reserve 50 GB without touching it") { attack("reserve_50g", ok); }
  TEST_CASE("hostile.fill_scratch: fill the scratch directory") { attack("fill_scratch", {{"runtime_error"}, "scratch full"}); }
  TEST_CASE("hostile.many_files: create 100k files") { attack("many_files", {{"runtime_error"}, "files before a limit"}); }
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
      CHECK(str(g.result, "message").find("No such file or directory") != std::string::npos);
      CHECK(json::serialize(g.result).find("root:") == std::string::npos);
    }
    fs::remove_all(dir);
  }
  TEST_CASE("hostile.control: the control, an honest job with every layer on") {
    auto r = attack("control", ok);
    std::set<std::string> layers;
    for (const auto& l : r.at("sandbox").at("layers").as_array()) layers.insert(std::string(l.as_string()));
    // Every layer this machine offers was active (on this machine kind: all).
    const std::set<std::string> applied_by_runner = {"pid_namespace", "mount_namespace", "network_namespace",
                                                     "cgroup_memory", "cgroup_pids",     "seccomp",
                                                     "rlimits"};
    for (const auto& probe : torchexam::sandbox::probe_layers())
      if (probe.available && applied_by_runner.count(probe.name))
        CHECK_MESSAGE(layers.count(probe.name) == 1, probe.name << " is available but was not active");
  }
}
