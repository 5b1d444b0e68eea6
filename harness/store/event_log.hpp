// event_log.hpp — writes submissions' progress events to the store from a
// thread of its own, so that the daemon's io thread never waits for SQLite's
// commit (an fsync with synchronous=FULL: 0.2 ms typical, 4 ms seen) while
// hundreds of clients wait on it.
//
// Contract: append() queues an event and returns at once; the writer thread
// commits everything queued since its last commit in one transaction, in the
// order it was appended. flush() returns once everything appended before it
// is committed (or has failed), so a reader that flushes first sees every
// event. The log has its own connection (Store::reopen()), so it shares no
// SQLite handle with the caller's thread.
//
// Failure behaviour: a failed commit (disk full, say) drops that batch and
// is reported on stderr and by last_error(); later batches are tried again.
// A daemon killed with kill -9 loses the events not yet committed, at most
// the ones of one commit's duration. They only describe progress: a
// submission's result and curve are stored with the submission itself, and
// a submission that was running is graded again after the restart.
//
// Threads: append(), flush() and last_error() from any thread. The
// destructor commits what is queued, then stops the writer.
#pragma once

#include "store/store.hpp"

#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace torchexam {

class EventLog {
 public:
  // Opens the log's own connection to `db`'s database; throws StoreError.
  explicit EventLog(const store::Store& db);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  void append(int64_t submission_id, std::string json);
  void flush();
  std::string last_error() const;

 private:
  void run();

  std::unique_ptr<store::Store> db_;
  mutable std::mutex mu_;
  std::condition_variable wake_, done_;
  std::vector<store::Store::Event> queued_;
  uint64_t appended_ = 0;   // events appended so far
  uint64_t committed_ = 0;  // of those, events committed or dropped by a failed commit
  bool stopping_ = false;
  std::string last_error_;
  std::thread writer_;
};

}  // namespace torchexam
