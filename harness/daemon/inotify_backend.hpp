// inotify_backend.hpp — the "inotify" WatcherBackend (Linux): the root and
// every folder below it watched through one inotify fd read with Boost.Asio,
// folders created later included. Made through the registry in watcher.cpp
// (make_watcher_backend("inotify", ...)); the contract is WatcherBackend's
// (watcher.hpp).
//
// Errors: construction and start() throw std::runtime_error naming the path
// and errno (e.g. inotify limits). Threads: events are reported on the
// io_context's thread; stop() and destruction may come at any time on that
// thread, and no callback follows them.
#pragma once

#include "daemon/watcher.hpp"

#include <boost/asio/io_context.hpp>

#include <filesystem>
#include <memory>

namespace torchexam::daemon {

std::unique_ptr<WatcherBackend> make_inotify_backend(boost::asio::io_context& io, const std::filesystem::path& root);

}  // namespace torchexam::daemon
