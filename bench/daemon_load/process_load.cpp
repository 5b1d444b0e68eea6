// The event loop's connections spread over P load processes (rows "loop/Pp",
// --procs), as clients that are separate programs are: each process is this
// program again (--load-process I/P), drives its share through its own event
// loop, and reports its Measurement as JSON on its stdout. All start
// together once every one is connected.
#include "load.hpp"
#include "support/launch.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>
#include <boost/json.hpp>

#include <array>
#include <cstdio>
#include <iostream>
#include <stdexcept>

namespace fs = std::filesystem;
namespace json = boost::json;

namespace torchexam::bench {
namespace {

struct Pipe {
  int read = -1, write = -1;
  Pipe() {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) throw std::runtime_error("cannot make a pipe");
    read = fds[0];
    write = fds[1];
  }
};

void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

std::string read_all(int fd) {
  std::string text;
  std::array<char, 65536> buf;
  for (ssize_t n; (n = ::read(fd, buf.data(), buf.size())) > 0;) text.append(buf.data(), static_cast<size_t>(n));
  return text;
}

}  // namespace

Measurement measure_procs(const LoadTarget& t, int procs, bool light, double rate) {
  if (procs <= 1) return measure_loop(t, light, rate);
  struct Child {
    pid_t pid;
    Pipe in, out;  // its stdin (EOF: go), its stdout ("ready", then the report)
  };
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<Child> children(static_cast<size_t>(procs));
  for (int p = 0; p < procs; ++p) {
    Child& c = children[static_cast<size_t>(p)];
    LaunchSpec l;
    l.argv = {self,
              "--load-process",
              fmt::format("{}/{}", p, procs),
              "--socket",
              t.socket.string(),
              "--session",
              t.session,
              "--clients",
              std::to_string(t.clients),
              "--calls",
              std::to_string(t.calls),
              "--rate",
              fmt::format("{}", rate),
              "--check",
              light ? "light" : "full"};
    l.stdin_fd = c.in.read;
    l.stdout_fd = c.out.write;
    c.pid = launch(l);
    close_fd(c.in.read);
    close_fd(c.out.write);
  }
  // Every process is connected (or gone) before any starts.
  for (auto& c : children) {
    char line[6];
    if (::read(c.out.read, line, sizeof line) != sizeof line) break;
  }
  for (auto& c : children) close_fd(c.in.write);  // go: every process reads EOF
  Measurement m;
  for (auto& c : children) {
    const std::string text = read_all(c.out.read);
    close_fd(c.out.read);
    int status = 0;
    ::waitpid(c.pid, &status, 0);
    if (text.empty() || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
      if (m.errors == 0) m.first_error = "a load process failed (see its message above)";
      m.errors += t.calls * (t.clients / procs);
      continue;
    }
    add(m, json::parse(text));
  }
  return m;
}

int run_load_process(const LoadTarget& t, Share share, bool light, double rate) {
  try {
    const Measurement m = measure_loop(t, light, rate, share, [] {
      std::cout << "ready" << std::endl;
      char c;
      while (::read(0, &c, 1) > 0) {
      }  // EOF: go
    });
    std::cout << json::serialize(to_json(m)) << std::flush;
    return 0;
  } catch (const std::exception& e) {
    fmt::print(stderr, "daemon_load: load process {}: {}\n", share.index, e.what());
    return 1;
  }
}

}  // namespace torchexam::bench
