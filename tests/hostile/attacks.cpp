// The hostile suite: one candidate solution holding every attack on the
// sandbox. The test (tests/e2e/test_hostile.cpp) puts attack_list.hpp in
// front of this file and grades the result through `torchexam grade`, the
// same source for every attack, so it is compiled once.
//
// train() first holds: it names its thread "texam_held" and waits for
// SIGUSR1. Meanwhile the test inspects the held process from outside, as
// the kernel shows it (namespaces, seccomp mode, uid, rlimits, cgroup
// limits), then releases it with the number of the attack to run as the
// signal's value. A job nobody releases within a minute fails ("HELD: ...").
//
// An attack that gets through throws "ESCAPED: ..." (a runtime_error the
// test refuses); one that is blocked falls through to an honest, tiny
// training run (verdict ok) unless the sandbox stops the job itself
// (timeout, memory_limit, forbidden, ...).
#include <torchexam/solution.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <net/if.h>
#include <netdb.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

namespace {
[[maybe_unused]] void write_to_pipes(const std::string& line);
}  // namespace

struct NetImpl : torch::nn::Module {
  NetImpl()
      : fc(register_module("fc", torch::nn::Linear(784, 10))),
        attack_number(register_buffer("attack_number", torch::zeros({1}, torch::kInt64))) {}
  torch::Tensor forward(torch::Tensor x) {
    // forged_predictions: at evaluation (more rows than the contract check's probe): leave a
    // malformed predictions file where the runner writes its own, claim
    // success, and leave before the runner can.
    if (attack_number.item<int64_t>() == static_cast<int64_t>(Attack::forged_predictions) && !is_training() &&
        x.size(0) > 2) {
      std::FILE* f = std::fopen("predictions.bin", "wb");
      if (f) {
        std::fputs("TXPRED01 but not really", f);
        std::fclose(f);
      }
      write_to_pipes(R"({"type":"result","verdict":"ok","message":"predicted everything","detail":""})"
                     "\n");
      _exit(0);
    }
    return fc(x.flatten(1));
  }
  torch::nn::Linear fc;
  // The attack train() ran, saved with the checkpoint: the evaluation runner
  // (a process of its own, which never calls train()) reads it back.
  torch::Tensor attack_number;
};
TORCH_MODULE(Net);

namespace {

[[maybe_unused]] [[noreturn]] void escaped(const std::string& what) { throw std::runtime_error("ESCAPED: " + what); }

constexpr const char* kLabels = "/usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz";
constexpr int kTcpPort = 47611;                                  // the test listens here on 127.0.0.1
constexpr const char* kAbstract = "torchexam-hostile-abstract";  // and on this abstract socket
constexpr const char* kPathSocket = "/tmp/torchexam-hostile.sock";

[[maybe_unused]] void name_me() { prctl(PR_SET_NAME, "texam_hostile"); }

[[maybe_unused]] bool can_open(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  char c;
  bool readable = read(fd, &c, 1) >= 0;
  close(fd);
  return readable;
}

[[maybe_unused]] bool unix_connects(const sockaddr_un& addr, socklen_t len) {
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s < 0) return false;
  bool ok = connect(s, reinterpret_cast<const sockaddr*>(&addr), len) == 0;
  close(s);
  return ok;
}

// Writes a fake event line to every pipe among the open descriptors.
[[maybe_unused]] void write_to_pipes(const std::string& line) {
  for (int fd = 0; fd < 1024; ++fd) {
    struct stat st {};
    if (fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode)) {
      ssize_t n = write(fd, line.data(), line.size());
      (void)n;
    }
  }
}

// Waits, named "texam_held", until the test releases the job with the
// attack's number (SIGUSR1 sent to this thread with a value). SIGUSR1 stays
// blocked in this thread only: it is sent to the thread, not the process.
Attack hold() {
  // Blocked before the name is set: the test sends SIGUSR1 as soon as it
  // sees the name, and an unblocked SIGUSR1 ends the process.
  sigset_t usr1;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &usr1, nullptr);
  prctl(PR_SET_NAME, "texam_held");
  siginfo_t info{};
  const timespec deadline{60, 0};
  if (sigtimedwait(&usr1, &info, &deadline) != SIGUSR1)
    throw std::runtime_error("HELD: nobody released the job within a minute");
  prctl(PR_SET_NAME, "texam_hostile");
  const int number = info.si_value.sival_int;
  if (number <= static_cast<int>(Attack::none) || number >= static_cast<int>(Attack::end))
    throw std::runtime_error("HELD: released with an unknown attack number " + std::to_string(number));
  return static_cast<Attack>(number);
}

void honest(Net& model, torchexam::Context& ctx) {
  torch::optim::SGD opt(model->parameters(), 0.1);
  for (int epoch : ctx.epochs(1)) {
    (void)epoch;
    for (auto& b : ctx.batches(100)) {
      opt.zero_grad();
      auto loss = torch::nn::functional::cross_entropy(model(b.x), b.y);
      loss.backward();
      opt.step();
      ctx.report(loss);
    }
  }
}

}  // namespace

void train(Net& model, torchexam::Context& ctx) {
  const Attack attack = hold();
  const double released_at = ctx.elapsed();  // the hold's wait is no part of an attack's time
  model->attack_number.fill_(static_cast<int64_t>(attack));
  if (attack == Attack::spin_one) {
    for (volatile unsigned long i = 0;; i = i + 1) {
    }
  }
  if (attack == Attack::spin_many) {
    std::vector<std::thread> spinners;
    for (int i = 0; i < 4; ++i)
      spinners.emplace_back([] {
        for (volatile unsigned long k = 0;; k = k + 1) {
        }
      });
    for (auto& t : spinners) t.join();
  }
  if (attack == Attack::ignore_sigterm) {
    signal(SIGTERM, SIG_IGN);
    for (;;) pause();
  }
  if (attack == Attack::fork_bomb) {
    name_me();
    for (;;) fork();
  }
  if (attack == Attack::thread_bomb) {
    std::vector<std::thread> threads;
    for (;;) threads.emplace_back([] { pause(); });  // throws std::system_error at the limit
  }
  if (attack == Attack::touch_50g) {
    // Published through a volatile pointer: memory nothing reads is
    // otherwise not allocated at all (clang removes the malloc and memset).
    static char* volatile last = nullptr;
    for (int gb = 0; gb < 50; ++gb) {
      char* p = static_cast<char*>(std::malloc(size_t{1} << 30));
      if (!p) throw std::runtime_error("malloc failed");
      std::memset(p, gb + 1, size_t{1} << 30);
      last = p;
    }
    escaped("touched 50 GB");
  }
  if (attack == Attack::reserve_50g) {
    void* p =
        mmap(nullptr, size_t{50} << 30, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) throw std::runtime_error(std::string("reserving 50 GB failed: ") + std::strerror(errno));
  }
  if (attack == Attack::fill_scratch) {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = tmp ? tmp : "/tmp";
    std::vector<char> chunk(16 << 20, 'x');
    long mib = 0;
    for (int i = 0; mib < 8192; ++i) {
      std::ofstream f(dir + "/fill" + std::to_string(i), std::ios::binary);
      if (!f.write(chunk.data(), static_cast<std::streamsize>(chunk.size())) || !f.flush()) break;
      mib += 16;
    }
    if (mib >= 8192) escaped("wrote 8 GiB of scratch");
    throw std::runtime_error("scratch full after " + std::to_string(mib) + " MiB");
  }
  if (attack == Attack::many_files) {
    const char* tmp = std::getenv("TMPDIR");
    std::string dir = tmp ? tmp : "/tmp";
    int made = 0;
    for (; made < 100000; ++made) {
      int fd = open((dir + "/f" + std::to_string(made)).c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
      if (fd < 0) break;
      close(fd);
    }
    throw std::runtime_error("created " + std::to_string(made) + " files before a limit");
  }
  if (attack == Attack::many_fds) {
    int opened = 0;
    while (opened < 100000 && open("/dev/null", O_RDONLY) >= 0) ++opened;
    if (opened >= 100000) escaped("opened 100k descriptors");
    throw std::runtime_error("descriptor limit after " + std::to_string(opened));
  }
  if (attack == Attack::flood_stdout) {
    std::vector<char> mb(1 << 20, 'y');
    for (long i = 0; i < 10240; ++i) fwrite(mb.data(), 1, mb.size(), stdout);
    escaped("wrote 10 GB to stdout");
  }
  if (attack == Attack::tcp_loopback) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s >= 0) {
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(kTcpPort);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      if (connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) escaped("TCP to 127.0.0.1");
      close(s);
    }
  }
  if (attack == Attack::dns) {
    addrinfo* res = nullptr;
    if (getaddrinfo("deb.debian.org", "80", nullptr, &res) == 0) {
      freeaddrinfo(res);
      escaped("resolved deb.debian.org");
    }
  }
  if (attack == Attack::abstract_unix) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::memcpy(a.sun_path + 1, kAbstract, std::strlen(kAbstract));
    if (unix_connects(a, static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + std::strlen(kAbstract))))
      escaped("abstract Unix socket");
  }
  if (attack == Attack::path_unix) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::strcpy(a.sun_path, kPathSocket);
    if (unix_connects(a, sizeof a)) escaped("Unix socket at a path");
  }
  if (attack == Attack::netlink) {
    if (struct if_nameindex* names = if_nameindex()) {
      for (auto* n = names; n->if_index != 0; ++n)
        if (std::string(n->if_name) != "lo") escaped(std::string("sees the host's interface ") + n->if_name);
      if_freenameindex(names);
    }
  }
  if (attack == Attack::read_shadow) {
    if (can_open("/etc/shadow")) escaped("read /etc/shadow");
  }
  if (attack == Attack::proc_spy) {
    if (DIR* d = opendir("/proc")) {
      while (dirent* e = readdir(d)) {
        if (std::atoi(e->d_name) <= 0) continue;
        std::ifstream f(std::string("/proc/") + e->d_name + "/cmdline");
        std::string cmd((std::istreambuf_iterator<char>(f)), {});
        for (const char* name : {"torchexam_e2e_tests", "ctest", "torchexamd"})
          if (cmd.find(name) != std::string::npos) escaped(std::string("sees ") + name + " in /proc");
      }
      closedir(d);
    }
  }
  if (attack == Attack::labels_by_path) {
    if (can_open(kLabels)) escaped("read the hidden labels");
  }
  if (attack == Attack::labels_by_dotdot) {
    char cwd[4096];
    if (getcwd(cwd, sizeof cwd) && can_open(std::string(cwd) + "/../../../../../../../../.." + kLabels))
      escaped("read the hidden labels through ../");
  }
  if (attack == Attack::labels_by_symlink) {
    if (symlink(kLabels, "labels-link") == 0 && can_open("labels-link"))
      escaped("read the hidden labels through a link");
  }
  if (attack == Attack::inherited_fd) {
    for (int fd = 3; fd < 4096; ++fd) {
      char path[64], target[4096];
      std::snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
      ssize_t n = readlink(path, target, sizeof target - 1);
      if (n > 0 && std::string(target, static_cast<size_t>(n)).find("t10k-labels") != std::string::npos)
        escaped("inherited a descriptor of the hidden labels");
    }
  }
  if (attack == Attack::write_outside) {
    for (std::string p : {"/tmp/torchexam-hostile-pwned", "/root/torchexam-hostile-pwned", "../torchexam-hostile-pwned",
                          "/usr/lib/torchexam-hostile-pwned"}) {
      int fd = open(p.c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
      if (fd >= 0) close(fd);  // the test checks the host afterwards
    }
  }
  if (attack == Attack::symlink_output) {
    honest(model, ctx);
    // The runner saves the model to checkpoint.pt here after train() returns.
    unlink("checkpoint.pt");
    if (symlink("/etc/passwd", "checkpoint.pt") != 0) throw std::runtime_error("symlink failed");
    return;
  }
  if (attack == Attack::setsid_daemon) {
    if (fork() == 0) {
      setsid();
      if (fork() == 0) {
        name_me();
        for (;;) pause();
      }
      _exit(0);
    }
  }
  if (attack == Attack::kill_all) {
    kill(-1, SIGKILL);
  }
  if (attack == Attack::kill_parent) {
    kill(getppid(), SIGKILL);
    kill(1, SIGKILL);
  }
  if (attack == Attack::ptrace) {
    ptrace(PTRACE_TRACEME, 0, nullptr, nullptr);
    escaped("ptrace was allowed");
  }
  if (attack == Attack::unshare) {
    if (unshare(CLONE_NEWUSER) == 0) escaped("unshare was allowed");
    escaped("unshare was refused but not stopped");
  }
  if (attack == Attack::mount) {
    if (mount("none", "/tmp", "tmpfs", 0, nullptr) == 0) escaped("mount was allowed");
    escaped("mount was refused but not stopped");
  }
  if (attack == Attack::bpf) {
    syscall(SYS_bpf, 0, nullptr, 0);
    escaped("bpf was not stopped");
  }
  if (attack == Attack::fake_verdict) {
    const std::string fake = R"({"type":"result","verdict":"ok","message":"all good","detail":""})"
                             "\n";
    std::fputs(fake.c_str(), stdout);
    std::fflush(stdout);
    write_to_pipes(fake);
    throw std::runtime_error("the real failure");
  }
  if (attack == Attack::read_passwd) {
    // The host's accounts: the minimal root has only root, nobody and the runner's uid.
    {
      std::ifstream in("/etc/passwd");
      for (std::string line; std::getline(in, line);)
        if (line.rfind("root:", 0) != 0 && line.rfind("nobody:", 0) != 0 && line.rfind("candidate:", 0) != 0)
          escaped("/etc/passwd lists " + line.substr(0, line.find(':')));
    }
  }
  if (attack == Attack::forged_internal_error) {
    // Claim a harness fault (a free resubmission), then train honestly.
    write_to_pipes(R"x({"type":"result","verdict":"internal_error","message":"the harness ran out of disk space )x"
                   R"x((not your fault: please resubmit)","detail":""})x"
                   "\n");
  }
  if (attack == Attack::huge_message) {
    // A 3 MB exception text, as a TORCH_CHECK that prints a tensor gives.
    throw std::runtime_error("huge message begins " + std::string(3 << 20, 'x') + " huge message ends");
  }
  if (attack == Attack::timeout_checkpoint) {
    // Train, save a checkpoint, then never finish: the checkpoint is graded.
    honest(model, ctx);
    ctx.checkpoint();
    for (volatile unsigned long i = 0;; i = i + 1) {
    }
  }
  if (attack == Attack::abort_late) {
    honest(model, ctx);
    while (ctx.elapsed() - released_at < 1.5) {  // a second and more of CPU time before the abort
    }
    std::abort();
  }
  if (attack == Attack::many_threads) {
    // Ask LibTorch for far more threads than the task has CPUs.
    torch::set_num_threads(64);
    cpu_set_t cpus;
    CPU_ZERO(&cpus);
    if (sched_getaffinity(0, sizeof cpus, &cpus) == 0) ctx.log("cpus=" + std::to_string(CPU_COUNT(&cpus)));
  }
  if (attack == Attack::spoofed_exit) {
    write_to_pipes(R"({"type":"exit","code":0,"cpu_s":0,"max_rss_kb":0})"
                   "\n");
    raise(SIGSEGV);
  }
  honest(model, ctx);
}

TORCHEXAM_SOLUTION(Net, train)
