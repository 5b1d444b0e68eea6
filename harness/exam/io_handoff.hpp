// io_handoff.hpp — how work leaves the io thread and its results come back.
//
// The exam core keeps all its state on the io_context's thread; slow work
// (grading, syntax checks, environment checks) runs on pools and posts its
// result back. IoHandoff is that way back: post() from any thread queues a
// handler on the io thread that runs only while the handoff is open, so a
// handler that outlives its owner (the io_context keeps it) is dropped
// instead of touching freed state. WorkerThreads is a pool whose work
// reports to the io thread through an IoHandoff.
//
// Threads: IoHandoff::post() from any thread; close() on the io thread,
// after every thread that posts has been joined. WorkerThreads: run(),
// post() and busy() on the io thread, join() on the io thread (it blocks
// until queued work is done).
// Failure: an exception thrown by run()'s work is handed to its `then`;
// post()'s work must not throw (a pool thread would terminate).
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <utility>

namespace torchexam {

// The answer to work done off the io thread, called on the io thread: the
// exception that refused it, or null and the result.
template <class R>
using Reply = std::function<void(std::exception_ptr error, R result)>;

class IoHandoff {
 public:
  explicit IoHandoff(boost::asio::io_context& io) : io_(io) {}

  template <class F>
  void post(F&& f) const {
    boost::asio::post(io_, [weak = weak_, f = std::forward<F>(f)]() mutable {
      if (!weak.expired()) f();
    });
  }
  // What was posted and has not run yet, and whatever is posted later, is
  // dropped unrun.
  void close() { alive_.reset(); }

 private:
  boost::asio::io_context& io_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);
  const std::weak_ptr<int> weak_ = alive_;  // read by post() on any thread, never changed
};

class WorkerThreads {
 public:
  WorkerThreads(const IoHandoff& io, size_t threads) : io_(io), pool_(threads) {}

  // work() on a pool thread, then then(error, result) on the io thread: the
  // exception work() threw, or null and what it returned. Counted in busy()
  // from now until `then` has run.
  template <class R, class Work, class Then>
  void run(Work work, Then then) {
    ++busy_;
    boost::asio::post(pool_, [this, work = std::move(work), then = std::move(then)]() mutable {
      std::exception_ptr failed;
      R result{};
      try {
        result = work();
      } catch (...) {
        failed = std::current_exception();
      }
      io_.post([this, then = std::move(then), failed, result = std::move(result)]() mutable {
        --busy_;
        then(failed, std::move(result));
      });
    });
  }
  // work() on a pool thread, reporting nothing; not counted in busy().
  template <class Work>
  void post(Work work) {
    boost::asio::post(pool_, std::move(work));
  }
  int busy() const { return busy_; }
  void join() { pool_.join(); }

 private:
  const IoHandoff& io_;
  boost::asio::thread_pool pool_;
  int busy_ = 0;  // io thread only
};

}  // namespace torchexam
