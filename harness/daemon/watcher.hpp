// watcher.hpp — notices saves in an exam workspace.
//
// A WatcherBackend reports raw file events; Watcher debounces them and hands
// the set of changed regular files to its callback on the io_context's
// thread. Backends are chosen through a registry (watchman's
// WatcherRegistry): "inotify" (Linux, Boost.Asio stream_descriptor over an
// inotify fd, watching the root and every folder below it, adding folders
// created later) and "fake" (tests drive it by hand).
//
// Catching up: sync(done) writes a cookie file in the root and calls done()
// once the backend has reported that cookie, so every change made before
// sync() has been delivered. Tests wait on that, never on sleeps (watchman's
// CookieSync). Cookie files (".torchexam-cookie-*") are never reported and
// are deleted once seen.
//
// Editors save in odd ways (write a temp file and rename it over the
// original; truncate and write): a change is reported for the final path
// when it is closed after writing or moved into place. Hidden files and
// files under "build/" folders are ignored.
//
// Errors: construction throws std::runtime_error naming the path and errno
// (e.g. inotify limits). Threads: all callbacks run on the io_context.
#pragma once

#include <boost/asio/io_context.hpp>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace torchexam::daemon {

class WatcherBackend {
 public:
  virtual ~WatcherBackend() = default;
  // Starts delivering paths of files that were written or moved into place.
  virtual void start(std::function<void(const std::filesystem::path&)> on_event) = 0;
  virtual void stop() = 0;

 private:
  friend class Watcher;
  // Called by Watcher::sync() right after it has written and closed the
  // cookie file `cookie` (an absolute or root-relative path inside the root).
  // A backend that sees the file system (inotify) ignores it: the cookie
  // arrives as an ordinary event. A backend that does not (the fake) reports
  // `cookie` as if it had seen it, so sync() works against it too.
  virtual void cookie_written(const std::filesystem::path& /*cookie*/) {}
};

// name -> factory; "inotify" and "fake" are registered.
std::unique_ptr<WatcherBackend> make_watcher_backend(const std::string& name, boost::asio::io_context& io,
                                                     const std::filesystem::path& root);
std::vector<std::string> watcher_backend_names();

// The fake backend: inject(path) reports an event as the real one would
// (asynchronously, through the io_context): a relative path is taken below
// the root, and paths outside the root, hidden or under "build/" are dropped.
// It touches no file. make_watcher_backend("fake") returns one of these.
class FakeWatcherBackend final : public WatcherBackend {
 public:
  FakeWatcherBackend(boost::asio::io_context& io, std::filesystem::path root);
  ~FakeWatcherBackend() override;
  void start(std::function<void(const std::filesystem::path&)> on_event) override;
  void stop() override;
  void inject(const std::filesystem::path& path);

 private:
  void cookie_written(const std::filesystem::path& cookie) override;  // injects it

  boost::asio::io_context& io_;
  std::filesystem::path root_;
  std::function<void(const std::filesystem::path&)> on_event_;
  std::shared_ptr<bool> alive_;  // false once destroyed; checked by posted injects
};

class Watcher {
 public:
  using OnChanges = std::function<void(const std::vector<std::filesystem::path>&)>;
  // The debounce waits until no event has arrived for `debounce`, then
  // delivers every distinct changed path once, sorted.
  Watcher(boost::asio::io_context& io, std::filesystem::path root, std::unique_ptr<WatcherBackend> backend,
          std::chrono::milliseconds debounce, OnChanges on_changes);
  ~Watcher();
  Watcher(const Watcher&) = delete;
  Watcher& operator=(const Watcher&) = delete;

  // Calls done() once every change made before this call has been delivered
  // to on_changes (pending debounced changes are flushed first).
  void sync(std::function<void()> done);

  const std::filesystem::path& root() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace torchexam::daemon
