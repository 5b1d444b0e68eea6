// event_sink.hpp — writes events, one JSON line each, to the event pipe.
// One thread. A write failure (the harness went away) is ignored: the run's
// outcome no longer has a reader. Messages are bounded (kMaxMessage; a
// LibTorch error that prints a tensor can be megabytes) so every event stays
// one line the harness reads whole.
#pragma once

#include "sandbox/events.hpp"
#include "sandbox/fd_io.hpp"
#include "sandbox/text.hpp"

#include <string>

namespace torchexam::sandbox {

class EventSink {
 public:
  explicit EventSink(int fd) : fd_(fd) {}
  void emit(const events::Event& e) const {
    write_all(fd_, events::to_json_line(e) + "\n");
  }
  static constexpr size_t kMaxMessage = 16 * 1024;
  static constexpr size_t kMaxDetail = 4 * 1024;

  void log(const std::string& message) const { emit(events::Log{bounded(to_valid_utf8(message), kMaxMessage)}); }
  void result(Verdict v, const std::string& message, const std::string& detail = {}) const {
    emit(events::Result{v, bounded(to_valid_utf8(message), kMaxMessage), bounded(to_valid_utf8(detail), kMaxDetail)});
  }

 private:
  int fd_;
};

}  // namespace torchexam::sandbox
