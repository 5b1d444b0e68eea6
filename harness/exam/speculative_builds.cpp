#include "exam/speculative_builds.hpp"

#include "base/hash.hpp"

#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

namespace torchexam {
namespace fs = std::filesystem;

namespace {

// <linux/ioprio.h>'s values, which glibc does not wrap.
constexpr int kIoprioWhoProcess = 1;
constexpr int kIoprioClassIdle = 3;
constexpr int kIoprioClassShift = 13;

// Lowest priority for the calling thread and what it starts: nice 19 and
// the idle I/O class. Best effort: a kernel that refuses leaves the thread
// as it was (the build is still cancelled by the next save).
void lowest_priority() {
  thread_local bool done = false;
  if (done) return;
  done = true;
  const auto tid = static_cast<id_t>(::gettid());
  (void)::setpriority(PRIO_PROCESS, tid, 19);
  (void)::syscall(SYS_ioprio_set, kIoprioWhoProcess, static_cast<int>(tid), kIoprioClassIdle << kIoprioClassShift);
}

// Whether a check's diagnostics leave the file unvouched for: an error, or
// the checker's own line-0 warning (the check stopped at its time limit, or
// could not run; docs/protocol.md).
bool not_clean(const std::vector<Diagnostic>& ds) {
  return std::any_of(ds.begin(), ds.end(), [](const Diagnostic& d) {
    return d.severity == "error" || d.severity == "fatal error" || (d.severity == "warning" && d.line == 0);
  });
}

std::optional<std::string> read_or_none(const fs::path& file) {
  try {
    return read_file(file);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

// The outcome of one build, as the io thread learns it.
struct Built {
  bool cancelled = false;
};

}  // namespace

std::optional<SpeculationMode> parse_speculation_mode(std::string_view text) {
  if (text == "off") return SpeculationMode::off;
  if (text == "idle") return SpeculationMode::idle;
  if (text == "always") return SpeculationMode::always;
  return std::nullopt;
}

std::string_view to_string(SpeculationMode mode) {
  switch (mode) {
    case SpeculationMode::off:
      return "off";
    case SpeculationMode::idle:
      return "idle";
    case SpeculationMode::always:
      return "always";
  }
  return "off";
}

SpeculativeBuilds::SpeculativeBuilds(const IoHandoff& io, SpeculationMode mode) : mode_(mode), thread_(io, 1) {}

SpeculativeBuilds::~SpeculativeBuilds() { shutdown(); }

uint64_t SpeculativeBuilds::saved(const std::string& session, const std::string& task, const fs::path& file,
                                  CompilerOptions options) {
  const uint64_t save = ++saves_;
  if (mode_ == SpeculationMode::off || stopped_) return save;
  const Key key{session, task};
  cancel_running(key);
  queued_.erase(std::remove_if(queued_.begin(), queued_.end(), [&](const auto& q) { return q.first == key; }),
                queued_.end());
  if (auto bytes = read_or_none(file))
    saved_[key] = Snapshot{save, file, std::move(*bytes), std::move(options)};
  else
    saved_.erase(key);
  return save;
}

void SpeculativeBuilds::checked(const std::string& session, const std::string& task, uint64_t save,
                                const std::vector<Diagnostic>& diagnostics) {
  const Key key{session, task};
  auto it = saved_.find(key);
  if (it == saved_.end() || it->second.save != save) return;  // a later save overtook it
  Snapshot snap = std::move(it->second);
  saved_.erase(it);
  // The check read the file some time after the save: it vouches for the
  // snapshot only when the file still holds the same bytes.
  if (not_clean(diagnostics) || read_or_none(snap.file) != snap.bytes) {
    ++counts_.skipped;
    return;
  }
  queued_.emplace_back(key, std::move(snap));
  pump();
}

void SpeculativeBuilds::grading_started(const std::string& source_hash) {
  ++local_gradings_;
  if (mode_ != SpeculationMode::idle || !running_ || running_->source_hash == source_hash) return;
  // Not beside a grading: started again once the gradings are over.
  running_->requeue = true;
  running_->cancel->store(true);
}

void SpeculativeBuilds::grading_ended() {
  local_gradings_ = std::max(0, local_gradings_ - 1);
  pump();
}

void SpeculativeBuilds::end_session(const std::string& session) {
  if (running_ && running_->key.first == session) {
    running_->requeue = false;
    running_->cancel->store(true);
  }
  queued_.erase(std::remove_if(queued_.begin(), queued_.end(), [&](const auto& q) { return q.first.first == session; }),
                queued_.end());
  for (auto it = saved_.begin(); it != saved_.end();)
    it = it->first.first == session ? saved_.erase(it) : std::next(it);
}

void SpeculativeBuilds::shutdown() {
  if (stopped_) return;
  stopped_ = true;
  queued_.clear();
  saved_.clear();
  if (running_) {
    running_->requeue = false;
    running_->cancel->store(true);
  }
  thread_.join();
}

void SpeculativeBuilds::cancel_running(const Key& key) {
  if (!running_ || running_->key != key) return;
  running_->requeue = false;
  running_->cancel->store(true);
}

void SpeculativeBuilds::pump() {
  if (stopped_ || running_ || queued_.empty()) return;
  if (mode_ == SpeculationMode::idle && local_gradings_ > 0) {
    ++counts_.deferred;
    return;
  }
  auto [key, snap] = std::move(queued_.front());
  queued_.pop_front();
  Running& r = running_.emplace();
  r.key = key;
  r.source_hash = sha256_hex(snap.bytes);
  r.cancel = std::make_shared<std::atomic<bool>>(false);
  ++counts_.started;
  // The bytes of the save, in a file of the cache's own; the build copies
  // them into its entry (compiler.cpp), keyed by their content.
  const fs::path source = snap.options.cache_dir / "speculative" /
                          fmt::format("{}-{}-{}.cpp", ::getpid(), snap.save, r.source_hash.substr(0, 16));
  CompilerOptions options = snap.options;
  options.cancel = r.cancel.get();
  options.backend = nullptr;  // here, as the local backend runs a grading's build
  r.snapshot = std::move(snap);
  thread_.run<Built>(
      [source, options, bytes = r.snapshot.bytes, cancel = r.cancel] {
        lowest_priority();
        fs::create_directories(source.parent_path());
        {
          std::ofstream out(source, std::ios::binary | std::ios::trunc);
          out << bytes;
          if (!out) throw std::runtime_error("cannot write " + source.string());
        }
        Built out;
        try {
          out.cancelled = Compiler(options).build(source).cancelled;
        } catch (...) {
          std::error_code ec;
          fs::remove(source, ec);
          throw;
        }
        std::error_code ec;
        fs::remove(source, ec);
        return out;
      },
      [this](std::exception_ptr failed, Built built) {
        Running ended = std::move(*running_);
        running_.reset();
        if (failed)
          ++counts_.failed;
        else if (built.cancelled)
          ++counts_.cancelled;
        else
          ++counts_.built;
        const bool newer =
            std::any_of(queued_.begin(), queued_.end(), [&](const auto& q) { return q.first == ended.key; });
        if (ended.requeue && built.cancelled && !newer && !stopped_)
          queued_.emplace_front(ended.key, std::move(ended.snapshot));
        pump();
      });
}

void SpeculationAwareRunner::start(const Job& job, const store::SubmissionRecord& rec, Done done) {
  if (job.remote() || (job.regrade && job.regrade->rescore)) return inner_.start(job, rec, std::move(done));
  builds_.grading_started(rec.source_hash);
  try {
    inner_.start(job, rec, [&builds = builds_, done = std::move(done)](JobOutcome outcome) {
      builds.grading_ended();
      done(std::move(outcome));
    });
  } catch (...) {
    builds_.grading_ended();
    throw;
  }
}

}  // namespace torchexam
