#include "sandbox/zygote_wire.hpp"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <string_view>

namespace torchexam::sandbox::zygote {

namespace {

constexpr std::string_view kRequestTag = "torchexam-zygote-job/1";
constexpr size_t kMaxFds = 8;

// Fields separated by NUL; a field may hold anything else.
void put(std::string& out, std::string_view field) {
  out.append(field);
  out.push_back('\0');
}

std::vector<std::string_view> fields(std::string_view packet) {
  std::vector<std::string_view> out;
  while (!packet.empty()) {
    const size_t nul = packet.find('\0');
    if (nul == std::string_view::npos) return {};  // not terminated: malformed
    out.push_back(packet.substr(0, nul));
    packet.remove_prefix(nul + 1);
  }
  return out;
}

template <class Int>
std::optional<Int> number(std::string_view s) {
  Int v{};
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size()) return std::nullopt;
  return v;
}

}  // namespace

std::string encode(const JobRequest& r) {
  std::string out;
  put(out, kRequestTag);
  put(out, r.cwd);
  put(out, std::to_string(r.argv.size()));
  for (const auto& a : r.argv) put(out, a);
  for (const auto& e : r.env) put(out, e);
  return out;
}

std::optional<JobRequest> decode_request(const std::string& packet) {
  const auto f = fields(packet);
  if (f.size() < 3 || f[0] != kRequestTag) return std::nullopt;
  const auto argc = number<size_t>(f[2]);
  if (!argc || *argc == 0 || *argc > f.size() - 3) return std::nullopt;
  JobRequest r;
  r.cwd = f[1];
  r.argv.assign(f.begin() + 3, f.begin() + 3 + static_cast<std::ptrdiff_t>(*argc));
  r.env.assign(f.begin() + 3 + static_cast<std::ptrdiff_t>(*argc), f.end());
  for (const auto& e : r.env)
    if (e.find('=') == std::string::npos) return std::nullopt;
  return r;
}

std::string encode(const Reply& r) {
  std::string out;
  switch (r.kind) {
    case Reply::Kind::started:
      put(out, "started");
      put(out, std::to_string(r.pid));
      break;
    case Reply::Kind::exit:
      put(out, "exit");
      put(out, std::to_string(r.wait_status));
      break;
    case Reply::Kind::error:
      put(out, "error");
      put(out, r.message);
      break;
  }
  return out;
}

std::optional<Reply> decode_reply(const std::string& packet) {
  const auto f = fields(packet);
  if (f.size() != 2) return std::nullopt;
  Reply r;
  if (f[0] == "started") {
    const auto pid = number<pid_t>(f[1]);
    if (!pid || *pid <= 0) return std::nullopt;
    r.kind = Reply::Kind::started;
    r.pid = *pid;
  } else if (f[0] == "exit") {
    const auto status = number<int>(f[1]);
    if (!status) return std::nullopt;
    r.kind = Reply::Kind::exit;
    r.wait_status = *status;
  } else if (f[0] == "error") {
    r.kind = Reply::Kind::error;
    r.message = f[1];
  } else {
    return std::nullopt;
  }
  return r;
}

bool send_packet(int sock, const std::string& payload, const std::vector<int>& fds) {
  if (payload.size() > kMaxPacket || fds.size() > kMaxFds) {
    errno = EMSGSIZE;
    return false;
  }
  iovec iov{const_cast<char*>(payload.data()), payload.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (!fds.empty()) {
    std::memset(control, 0, sizeof control);
    msg.msg_control = control;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(c), fds.data(), sizeof(int) * fds.size());
  }
  for (;;) {
    const ssize_t n = ::sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    return n == static_cast<ssize_t>(payload.size());
  }
}

std::optional<std::string> recv_packet(int sock, std::vector<int>* fds) {
  std::string buf(kMaxPacket, '\0');
  iovec iov{buf.data(), buf.size()};
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  ssize_t n;
  while ((n = ::recvmsg(sock, &msg, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR) {
  }
  if (n < 0) return std::nullopt;
  for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (size_t i = 0; i < count; ++i) {
      int fd;
      std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (fds)
        fds->push_back(fd);
      else
        ::close(fd);
    }
  }
  if (n == 0) {
    errno = 0;
    return std::nullopt;
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    errno = EMSGSIZE;
    return std::nullopt;
  }
  buf.resize(static_cast<size_t>(n));
  return buf;
}

}  // namespace torchexam::sandbox::zygote
