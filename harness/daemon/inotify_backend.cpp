// inotify_backend.cpp — the "inotify" watcher backend (inotify_backend.hpp).
//
// One inotify fd inside a posix::stream_descriptor. All mutable state (fd,
// read buffer, carried-over bytes, wd -> folder table) lives in a shared
// State that each read handler holds, so stop() or destruction never leaves a
// completion pointing at freed memory; a stopped State never calls back.
// Folders are watched recursively; a folder created or moved in later is
// watched and scanned (its files may predate the watch). IN_Q_OVERFLOW means
// events were lost: rescan and report every file (cookies included, so
// pending syncs still finish).
#include "daemon/inotify_backend.hpp"

#include "daemon/watch_rules.hpp"

#include <boost/asio/posix/stream_descriptor.hpp>

#include <fcntl.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>

namespace torchexam::daemon {

namespace fs = std::filesystem;
namespace asio = boost::asio;
using OnEvent = std::function<void(const fs::path&)>;
using namespace watch;

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

std::unique_ptr<WatcherBackend> make_inotify_backend(asio::io_context& io, const fs::path& root) {
  return std::make_unique<InotifyBackend>(io, root);
}

}  // namespace torchexam::daemon
