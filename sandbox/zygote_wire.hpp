// zygote_wire.hpp — what the harness and torchexam-runner's zygote
// (zygote.hpp) say to each other over a job's connection.
//
// The zygote listens on a Unix SOCK_SEQPACKET socket; each job is one
// connection, each message one packet. The harness sends one JobRequest
// with the job's stdin, stdout and stderr attached (SCM_RIGHTS); the zygote
// answers with `started` (the child's pid, its pidfd attached) or `error`
// (nothing was started), then, once the child has ended, `exit` with its
// wait status. A connection that closes before `exit` means the zygote
// died: its child dies with it (PR_SET_PDEATHSIG).
//
// No LibTorch, no exceptions: every function reports failure by its
// result (errno, or a message, says why). Included by both sides.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

namespace torchexam::sandbox::zygote {

// A packet is at most this long (the socket's default send buffer is
// larger); a request that does not fit is run as a fresh process instead.
constexpr size_t kMaxPacket = 128 * 1024;

struct JobRequest {
  std::string cwd;                // the child's working directory
  std::vector<std::string> argv;  // argv[0] is the runner's path
  std::vector<std::string> env;   // NAME=VALUE, the child's whole environment
};

struct Reply {
  enum class Kind { started, exit, error } kind = Kind::error;
  pid_t pid = 0;        // started
  int wait_status = 0;  // exit: as waitpid() gives it
  std::string message;  // error
};

std::string encode(const JobRequest& r);
std::optional<JobRequest> decode_request(const std::string& packet);
std::string encode(const Reply& r);
std::optional<Reply> decode_reply(const std::string& packet);

// One packet with up to `fds.size()` descriptors attached. False on failure
// (errno set); never raises SIGPIPE.
bool send_packet(int sock, const std::string& payload, const std::vector<int>& fds = {});
// One packet; descriptors that came with it are appended to `fds` (close-
// on-exec). nullopt at end of file or on failure (errno 0 at end of file).
std::optional<std::string> recv_packet(int sock, std::vector<int>* fds = nullptr);

}  // namespace torchexam::sandbox::zygote
