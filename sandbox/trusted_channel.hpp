// trusted_channel.hpp — the worker's line to its supervisor for the
// harness's own faults, open only until candidate code is loaded.
//
// The event pipe is shared with candidate code, so nothing on it can speak
// for the harness (events.hpp). A failure of the runner's own set-up or of
// the staged files, found before the candidate's library or model is
// loaded, is reported here as well; the supervisor, outside the job, writes
// it into its status file as `harness_fault`, which the harness trusts
// (runner_launch.hpp). seal() closes the descriptor before the first byte
// of candidate code runs (dlopen runs static constructors), so candidate
// code can neither write to it nor find it in /proc/self/fd.
//
// One thread; not copyable. A write failure is ignored (the supervisor is
// gone and nobody is left to read it).
#pragma once

#include <string>

namespace torchexam::sandbox {

class TrustedChannel {
 public:
  static constexpr size_t kMaxFault = 4096;

  explicit TrustedChannel(int fd = -1) : fd_(fd) {}
  ~TrustedChannel() { seal(); }
  TrustedChannel(const TrustedChannel&) = delete;
  TrustedChannel& operator=(const TrustedChannel&) = delete;

  // Reports a fault of the harness (bounded to kMaxFault bytes). Only the
  // first report counts; a call after seal() does nothing and returns false.
  bool harness_fault(const std::string& message);
  // Closes the channel for good. Call right before loading candidate code.
  void seal();
  bool open() const { return fd_ >= 0; }

 private:
  int fd_;
  bool reported_ = false;
};

}  // namespace torchexam::sandbox
