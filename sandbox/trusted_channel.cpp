#include "trusted_channel.hpp"

#include "text.hpp"

#include <unistd.h>

#include <cerrno>

namespace torchexam::sandbox {

bool TrustedChannel::harness_fault(const std::string& message) {
  if (fd_ < 0) return false;
  if (reported_) return true;
  reported_ = true;
  const std::string text = bounded(to_valid_utf8(message), kMaxFault);
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd_, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    off += static_cast<size_t>(n);
  }
  return true;
}

void TrustedChannel::seal() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

}  // namespace torchexam::sandbox
