// watcher.cpp — the workspace watcher: its backends, their registry, and the
// debouncing Watcher with cookie syncs (contract in watcher.hpp).
//
// Organisation: the naming rules every backend shares (what a cookie file
// is, which paths are ignored) are in watch_rules.hpp, the inotify backend in
// inotify_backend.cpp (one backend per file, as watchman's watcher/). Here,
// top to bottom:
//   1. FakeWatcherBackend: inject() posts the event through the io_context.
//   2. The registry: a fixed table name -> factory.
//   3. Watcher::Impl: a sorted pending set, a steady_timer debounce that
//      restarts on each event (a generation counter discards stale expiries),
//      and CookieSync: sync() writes ".torchexam-cookie-<pid>-<n>"; when the
//      backend reports it, pending changes are flushed, the cookie is deleted
//      and done() runs (with any older outstanding sync of this Watcher, since
//      a later cookie proves the earlier ones too).
//
// Lifetime rule: every handler that can outlive the object it serves holds a
// shared "alive" flag (or the shared State) and checks it first; user
// callbacks are called through local copies and the flag is rechecked after
// each, so a callback may destroy the Watcher.
#include "daemon/watcher.hpp"

#include "daemon/inotify_backend.hpp"
#include "daemon/watch_rules.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <utility>

namespace torchexam::daemon {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using OnEvent = std::function<void(const fs::path&)>;
using namespace watch;

// ---------------------------------------------------------------------------
// 1. The fake
// ---------------------------------------------------------------------------
FakeWatcherBackend::FakeWatcherBackend(boost::asio::io_context& io, std::filesystem::path root)
    : io_(io), root_(std::move(root)), alive_(std::make_shared<bool>(true)) {}

FakeWatcherBackend::~FakeWatcherBackend() { *alive_ = false; }

void FakeWatcherBackend::start(std::function<void(const std::filesystem::path&)> on_event) {
  on_event_ = std::move(on_event);
}

void FakeWatcherBackend::stop() { on_event_ = nullptr; }

void FakeWatcherBackend::inject(const std::filesystem::path& path) {
  const auto rel = relative_to_root(root_, path);
  if (!rel || ignored_file(*rel)) return;
  asio::post(io_, [this, alive = alive_, full = root_ / *rel] {
    if (!*alive || !on_event_) return;
    const auto on_event = on_event_;  // the callback may destroy this backend
    on_event(full);
  });
}

void FakeWatcherBackend::cookie_written(const std::filesystem::path& cookie) { inject(cookie); }

// ---------------------------------------------------------------------------
// 2. Registry
// ---------------------------------------------------------------------------
namespace {

struct BackendEntry {
  std::string_view name;
  std::unique_ptr<WatcherBackend> (*make)(asio::io_context&, const fs::path&);
};

constexpr std::array<BackendEntry, 2> kBackends{{
    {"inotify", [](asio::io_context& io, const fs::path& root) -> std::unique_ptr<WatcherBackend> {
       return make_inotify_backend(io, root);
     }},
    {"fake", [](asio::io_context& io, const fs::path& root) -> std::unique_ptr<WatcherBackend> {
       return std::make_unique<FakeWatcherBackend>(io, root);
     }},
}};

}  // namespace

std::vector<std::string> watcher_backend_names() {
  std::vector<std::string> names;
  for (const auto& b : kBackends) names.emplace_back(b.name);
  return names;
}

std::unique_ptr<WatcherBackend> make_watcher_backend(const std::string& name, boost::asio::io_context& io,
                                                     const std::filesystem::path& root) {
  for (const auto& b : kBackends) {
    if (b.name == name) return b.make(io, root);
  }
  std::string known;
  for (const auto& n : watcher_backend_names()) known += (known.empty() ? "" : ", ") + n;
  throw std::invalid_argument("watcher: unknown backend '" + name + "' (known: " + known + ")");
}

// ---------------------------------------------------------------------------
// 3. Watcher
// ---------------------------------------------------------------------------
namespace {

std::atomic<std::uint64_t> next_cookie{0};  // process-wide, so Watchers sharing a root never collide

std::string own_cookie_prefix() { return std::string(kCookiePrefix) + std::to_string(::getpid()) + "-"; }

// The counter of one of this process's cookies, or nullopt.
std::optional<std::uint64_t> own_cookie_counter(std::string_view name) {
  const std::string prefix = own_cookie_prefix();
  if (!name.starts_with(prefix)) return std::nullopt;
  name.remove_prefix(prefix.size());
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), n);
  if (ec != std::errc() || end != name.data() + name.size()) return std::nullopt;
  return n;
}

void write_cookie(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
  if (fd < 0) throw std::runtime_error("watcher: cannot write cookie " + path.string() + ": " + errno_text(errno));
  const std::string body = std::to_string(::getpid()) + "\n";
  const ssize_t n = ::write(fd, body.data(), body.size());
  const int write_err = errno;
  if (::close(fd) != 0 || n < 0) {
    const int err = n < 0 ? write_err : errno;
    std::error_code ignored;
    fs::remove(path, ignored);
    throw std::runtime_error("watcher: cannot write cookie " + path.string() + ": " + errno_text(err));
  }
}

}  // namespace

struct Watcher::Impl {
  struct Sync {
    fs::path cookie;
    std::function<void()> done;
  };

  Impl(asio::io_context& io_, fs::path root_, std::unique_ptr<WatcherBackend> backend_,
       std::chrono::milliseconds debounce_, OnChanges on_changes_)
      : root(std::move(root_)),
        backend(std::move(backend_)),
        debounce(debounce_),
        on_changes(std::move(on_changes_)),
        timer(io_) {}

  fs::path root;
  std::unique_ptr<WatcherBackend> backend;
  std::chrono::milliseconds debounce;
  OnChanges on_changes;
  asio::steady_timer timer;
  std::uint64_t generation = 0;  // bumped on every (re)arm and flush; a stale expiry does nothing
  std::set<fs::path> pending;
  std::map<std::uint64_t, Sync> syncs;  // cookie counter -> outstanding sync
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);

  void on_event(const fs::path& path) {
    const std::string name = path.filename().string();
    if (is_cookie_name(name)) {
      on_cookie(name);
      return;
    }
    pending.insert(path);
    arm_timer();
  }

  void arm_timer() {
    const std::uint64_t gen = ++generation;
    timer.expires_after(debounce);
    timer.async_wait([this, token = alive, gen](const boost::system::error_code& ec) {
      if (!*token || ec || gen != generation) return;
      flush();
    });
  }

  // Delivers the pending paths now. False if the Watcher was destroyed by the callback.
  bool flush() {
    ++generation;
    timer.cancel();
    if (pending.empty()) return true;
    const std::vector<fs::path> changes(pending.begin(), pending.end());
    pending.clear();
    const auto token = alive;
    const auto callback = on_changes;  // the callback may destroy the Watcher
    if (callback) callback(changes);
    return *token;
  }

  void on_cookie(const std::string& name) {
    const auto counter = own_cookie_counter(name);
    if (!counter || !syncs.contains(*counter)) return;  // another Watcher's, or already done
    // Events arrive in order, so this cookie also proves every older one.
    std::vector<std::function<void()>> done;
    for (auto it = syncs.begin(); it != syncs.end() && it->first <= *counter;) {
      std::error_code ignored;
      fs::remove(it->second.cookie, ignored);
      done.push_back(std::move(it->second.done));
      it = syncs.erase(it);
    }
    const auto token = alive;
    if (!flush()) return;
    for (auto& d : done) {
      if (d) d();
      if (!*token) return;
    }
  }
};

Watcher::Watcher(boost::asio::io_context& io, std::filesystem::path root, std::unique_ptr<WatcherBackend> backend,
                 std::chrono::milliseconds debounce, OnChanges on_changes) {
  if (!backend) throw std::invalid_argument("watcher: no backend");
  impl_ = std::make_unique<Impl>(io, std::move(root), std::move(backend), debounce, std::move(on_changes));
  impl_->backend->start([impl = impl_.get(), token = impl_->alive](const fs::path& path) {
    if (*token) impl->on_event(path);
  });
}

Watcher::~Watcher() {
  *impl_->alive = false;
  impl_->backend->stop();
  impl_->timer.cancel();
  for (const auto& [counter, s] : impl_->syncs) {
    std::error_code ignored;
    fs::remove(s.cookie, ignored);
  }
}

void Watcher::sync(std::function<void()> done) {
  const std::uint64_t counter = next_cookie++;
  const fs::path cookie = impl_->root / (own_cookie_prefix() + std::to_string(counter));
  write_cookie(cookie);
  impl_->syncs.emplace(counter, Impl::Sync{cookie, std::move(done)});
  impl_->backend->cookie_written(cookie);
}

const std::filesystem::path& Watcher::root() const { return impl_->root; }

}  // namespace torchexam::daemon
