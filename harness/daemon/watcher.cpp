// watcher.cpp — the workspace watcher: its backends, their registry, and the
// debouncing Watcher with cookie syncs (contract in watcher.hpp).
//
// Organisation, top to bottom:
//   1. Naming rules every backend shares: what a cookie file is, and which
//      paths are ignored (hidden names except cookies in the root; anything
//      under a folder named "build"). Said once, here.
//   2. InotifyBackend. One inotify fd inside a posix::stream_descriptor. All
//      mutable state (fd, read buffer, carried-over bytes, wd -> folder table)
//      lives in a shared State that each read handler holds, so stop() or
//      destruction never leaves a completion pointing at freed memory; a
//      stopped State never calls back. Folders are watched recursively; a
//      folder created or moved in later is watched and scanned (its files may
//      predate the watch). IN_Q_OVERFLOW means events were lost: rescan and
//      report every file (cookies included, so pending syncs still finish).
//   3. FakeWatcherBackend: inject() posts the event through the io_context.
//   4. The registry: a fixed table name -> factory.
//   5. Watcher::Impl: a sorted pending set, a steady_timer debounce that
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

#include <boost/asio/post.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstdint>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace torchexam::daemon {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using OnEvent = std::function<void(const fs::path&)>;

// ---------------------------------------------------------------------------
// 1. Naming rules
// ---------------------------------------------------------------------------
namespace {

constexpr std::string_view kCookiePrefix = ".torchexam-cookie-";

bool is_cookie_name(std::string_view name) { return name.starts_with(kCookiePrefix); }

// `rel` is relative to the root. A folder is skipped (not watched, nothing
// below it reported) if any component is hidden or named "build".
bool ignored_dir(const fs::path& rel) {
  for (const auto& part : rel) {
    const std::string s = part.string();
    if (s.empty() || s == ".") continue;
    if (s == "build" || s.front() == '.') return true;
  }
  return false;
}

// A file is ignored if its folder is, or if its name is hidden, unless it is a
// cookie directly in the root.
bool ignored_file(const fs::path& rel) {
  if (rel.empty() || ignored_dir(rel.parent_path())) return true;
  const std::string name = rel.filename().string();
  if (name.empty()) return true;
  if (name.front() != '.') return false;
  return !(is_cookie_name(name) && !rel.has_parent_path());
}

// `p` relative to `root` (a relative `p` is already relative to it); nullopt
// if `p` is outside the root or is the root itself.
std::optional<fs::path> relative_to_root(const fs::path& root, const fs::path& p) {
  if (p.is_relative()) return p.lexically_normal();
  fs::path rel = p.lexically_normal().lexically_relative(root.lexically_normal());
  if (rel.empty() || rel == "." || *rel.begin() == "..") return std::nullopt;
  return rel;
}

// True if `p` is `dir` or lies below it (lexically, component by component).
bool is_within(const fs::path& p, const fs::path& dir) {
  auto pi = p.begin();
  for (auto di = dir.begin(); di != dir.end(); ++di, ++pi) {
    if (pi == p.end() || *pi != *di) return false;
  }
  return true;
}

std::string errno_text(int err) { return std::error_code(err, std::generic_category()).message(); }

}  // namespace

// ---------------------------------------------------------------------------
// 2. inotify
// ---------------------------------------------------------------------------
namespace {

constexpr std::uint32_t kDirMask =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE | IN_DELETE_SELF | IN_ONLYDIR | IN_EXCL_UNLINK;

class InotifyBackend final : public WatcherBackend {
 public:
  InotifyBackend(asio::io_context& io, fs::path root);
  ~InotifyBackend() override;
  void start(OnEvent on_event) override;
  void stop() override;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

struct InotifyBackend::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, fs::path r) : fd(io), root(std::move(r)) {}

  asio::posix::stream_descriptor fd;
  fs::path root;
  OnEvent on_event;
  bool started = false;
  bool stopped = false;
  std::unordered_map<int, fs::path> dirs;  // wd -> folder relative to root ("" is the root)
  std::array<char, 64 * 1024> buf{};
  std::vector<char> data;  // bytes read but not yet parsed (an incomplete record)

  fs::path full(const fs::path& rel) const { return rel.empty() ? root : root / rel; }

  // Reports a file; false if the backend was stopped meanwhile.
  bool emit(const fs::path& rel) {
    if (stopped) return false;
    on_event(full(rel));
    return !stopped;
  }

  // Adds a watch on folder `rel`. With `strict`, failures throw (the root
  // always; a subfolder unless it vanished); otherwise they are ignored.
  bool add_watch(const fs::path& rel, bool strict) {
    const fs::path path = full(rel);
    const std::uint32_t mask = rel.empty() ? kDirMask : (kDirMask | IN_DONT_FOLLOW);
    const int wd = ::inotify_add_watch(fd.native_handle(), path.c_str(), mask);
    if (wd < 0) {
      const int err = errno;
      const bool vanished = !rel.empty() && (err == ENOENT || err == ENOTDIR);
      if (strict && !vanished) {
        throw std::runtime_error("watcher: inotify_add_watch " + path.string() + ": " + errno_text(err));
      }
      return false;
    }
    dirs[wd] = rel;
    return true;
  }

  // Watches folder `rel` and every folder below it (watch first, then list,
  // so nothing written in between is missed); with `report`, reports the
  // regular files found, except cookies (see rescan). False if stopped
  // during a report.
  bool watch_tree(const fs::path& rel, bool report, bool strict) {
    if (!add_watch(rel, strict)) return !stopped;
    std::error_code ec;
    fs::directory_iterator it(full(rel), ec);
    for (; !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const fs::path child = rel / it->path().filename();
      std::error_code sec;
      const fs::file_status st = it->symlink_status(sec);
      if (sec) continue;
      if (fs::is_directory(st)) {
        if (!ignored_dir(child) && !watch_tree(child, report, strict)) return false;
      } else if (report && fs::is_regular_file(st) && !ignored_file(child) &&
                 !is_cookie_name(child.filename().string())) {
        if (!emit(child)) return false;
      }
    }
    return !stopped;
  }

  // Drops the watches on folder `rel` and below (it was moved away).
  void forget_tree(const fs::path& rel) {
    for (auto it = dirs.begin(); it != dirs.end();) {
      if (is_within(it->second, rel)) {
        ::inotify_rm_watch(fd.native_handle(), it->first);
        it = dirs.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Events were lost: forget the table, watch everything again (the kernel
  // hands back the same wd for a folder already watched) and report every
  // file. Cookies in the root come last: a cookie promises that everything
  // before it was reported, so it must not come out in the middle of the scan.
  bool rescan() {
    dirs.clear();
    if (!watch_tree(fs::path(), /*report=*/true, /*strict=*/false)) return false;
    std::vector<fs::path> cookies;
    std::error_code ec;
    for (fs::directory_iterator it(root, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
      const fs::path name = it->path().filename();
      std::error_code sec;
      if (is_cookie_name(name.string()) && fs::is_regular_file(it->symlink_status(sec))) cookies.push_back(name);
    }
    std::sort(cookies.begin(), cookies.end());
    for (const auto& c : cookies) {
      if (!emit(c)) return false;
    }
    return true;
  }

  void read_some() {
    fd.async_read_some(asio::buffer(buf), [self = shared_from_this()](const boost::system::error_code& ec,
                                                                      std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(const boost::system::error_code& ec, std::size_t n) {
    if (stopped || ec) return;  // aborted by stop(), or the fd failed: no more events
    data.insert(data.end(), buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(n));
    std::size_t off = 0;
    while (data.size() - off >= sizeof(inotify_event)) {
      inotify_event ev;
      std::memcpy(&ev, data.data() + off, sizeof ev);
      const std::size_t record = sizeof(inotify_event) + ev.len;
      if (data.size() - off < record) break;  // the rest of this record comes with the next read
      const char* name_ptr = data.data() + off + sizeof(inotify_event);
      std::string name(name_ptr, ::strnlen(name_ptr, ev.len));
      off += record;
      if (!dispatch(ev, name)) return;  // stopped from a callback: the State is left as is
    }
    data.erase(data.begin(), data.begin() + static_cast<std::ptrdiff_t>(off));
    read_some();
  }

  // Handles one event; false if stopped meanwhile.
  bool dispatch(const inotify_event& ev, const std::string& name) {
    if (ev.mask & IN_Q_OVERFLOW) return rescan();
    if (ev.mask & IN_IGNORED) {
      dirs.erase(ev.wd);
      return true;
    }
    const auto it = dirs.find(ev.wd);
    if (it == dirs.end() || name.empty()) return true;  // unknown wd, or an event on the folder itself
    const fs::path rel = it->second / name;
    if (ev.mask & IN_ISDIR) {
      if (ev.mask & IN_MOVED_FROM) forget_tree(rel);
      if ((ev.mask & (IN_CREATE | IN_MOVED_TO)) && !ignored_dir(rel)) {
        return watch_tree(rel, /*report=*/true, /*strict=*/false);
      }
      return true;
    }
    if (ignored_file(rel)) return true;
    if (ev.mask & IN_CLOSE_WRITE) return emit(rel);
    if (ev.mask & IN_MOVED_TO) {
      std::error_code ec;
      if (fs::is_regular_file(fs::symlink_status(full(rel), ec))) return emit(rel);
    }
    return true;
  }
};

InotifyBackend::InotifyBackend(asio::io_context& io, fs::path root)
    : state_(std::make_shared<State>(io, std::move(root))) {
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    throw std::runtime_error("watcher: inotify_init1 for " + state_->root.string() + ": " + errno_text(errno));
  }
  state_->fd.assign(fd);
}

InotifyBackend::~InotifyBackend() { stop(); }

void InotifyBackend::start(OnEvent on_event) {
  if (state_->started || state_->stopped) throw std::logic_error("watcher: inotify backend started twice");
  state_->started = true;
  state_->on_event = std::move(on_event);
  state_->watch_tree(fs::path(), /*report=*/false, /*strict=*/true);
  state_->read_some();
}

void InotifyBackend::stop() {
  state_->stopped = true;
  boost::system::error_code ignored;
  state_->fd.close(ignored);  // removes every watch; a pending read completes as aborted
}

}  // namespace

// ---------------------------------------------------------------------------
// 3. The fake
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
// 4. Registry
// ---------------------------------------------------------------------------
namespace {

struct BackendEntry {
  std::string_view name;
  std::unique_ptr<WatcherBackend> (*make)(asio::io_context&, const fs::path&);
};

constexpr std::array<BackendEntry, 2> kBackends{{
    {"inotify", [](asio::io_context& io, const fs::path& root) -> std::unique_ptr<WatcherBackend> {
       return std::make_unique<InotifyBackend>(io, root);
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
// 5. Watcher
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
