// event_sink.hpp — writes events, one JSON line each, to the event pipe.
// One thread. A write failure (the harness went away) is ignored: the run's
// outcome no longer has a reader.
#pragma once

#include "events.hpp"

#include <unistd.h>

#include <cerrno>
#include <string>

namespace torchexam::sandbox {

class EventSink {
 public:
  explicit EventSink(int fd) : fd_(fd) {}
  void emit(const events::Event& e) const {
    const std::string line = events::to_json_line(e) + "\n";
    size_t off = 0;
    while (off < line.size()) {
      ssize_t n = ::write(fd_, line.data() + off, line.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return;
      off += static_cast<size_t>(n);
    }
  }
  void log(const std::string& message) const { emit(events::Log{message}); }
  void result(Verdict v, std::string message, std::string detail = {}) const {
    emit(events::Result{v, std::move(message), std::move(detail)});
  }

 private:
  int fd_;
};

}  // namespace torchexam::sandbox
