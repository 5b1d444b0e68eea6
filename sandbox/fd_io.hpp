// fd_io.hpp — whole writes and reads on a descriptor (pipes, files), retrying
// after EINTR and short transfers. Async-signal-safe apart from
// read_to_end's allocation; used between fork and exec and by the runner's
// processes, which must not throw on a peer that went away: every function
// reports failure by its result, errno says why.
#pragma once

#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <string>
#include <string_view>

namespace torchexam::sandbox {

// False when the descriptor failed before all `n` bytes were written.
inline bool write_all(int fd, const void* data, size_t n) {
  const auto* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}
inline bool write_all(int fd, std::string_view s) { return write_all(fd, s.data(), s.size()); }

// False at end of file or an error before all `n` bytes were read.
inline bool read_exact(int fd, void* data, size_t n) {
  auto* p = static_cast<char*>(data);
  while (n > 0) {
    const ssize_t r = ::read(fd, p, n);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    p += r;
    n -= static_cast<size_t>(r);
  }
  return true;
}

// Everything until end of file (or an error).
inline std::string read_to_end(int fd) {
  std::string out;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n > 0) {
      out.append(buf, static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return out;
  }
}

}  // namespace torchexam::sandbox
