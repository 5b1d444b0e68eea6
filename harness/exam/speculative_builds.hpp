// speculative_builds.hpp — builds a task's solution in the background when
// a save of it checks clean, into the compiler's content-hash build cache,
// so that a submit of that content finds its build ready (issue 21).
//
// What starts one: saved() snapshots the file's bytes when the watcher
// reports the save; checked() hears the save-time check of that same save.
// When the check found no error (and finished: a check stopped at its time
// limit says so with a warning at line 0) and the file still holds the
// bytes of the save, a build of those bytes is queued. A broken save, a save whose check
// a later save overtook, and a file changed since its save start nothing.
//
// What stops one: the next save of the same task (its build is cancelled
// through the Compiler's cancel flag, and forgotten); the end of its
// session; shutdown(). A speculative build never decides what a grading
// uses: the cache is keyed by the source's content (compiler.hpp), so a
// submit of other content builds that content, and a cancelled build leaves
// no entry.
//
// Priority and gradings:
// - One build at a time, on one thread of its own, whose nice value is 19
//   and I/O class idle (both per thread on Linux, inherited by the compiler
//   it starts; the compiler's sandbox uses only the memory and pids cgroup
//   controllers, so the compiler competes in the daemon's CPU group, where
//   nice counts). Not SCHED_IDLE: a submit of the same content joins the
//   running build (below) and no unprivileged process can raise it again;
//   at nice 19 it still yields about 98% of a core to any nice-0 process.
// - Mode `idle` (the default): a build starts only while no local grading
//   runs (gradings of a cluster backend do not count, and a session whose
//   environment grades on a cluster gets no speculative builds: its builds
//   live in the cluster's cache). A local grading that starts cancels a
//   running build of other content, which is queued again and started when
//   the last local grading ends. A running build of the grading's own
//   content is left to run: the grading's compiler waits on the cache
//   entry's lock and takes the finished entry (build_cached), or builds
//   itself when the speculative build is cancelled meanwhile (compiler.hpp).
// - Mode `always`: builds start beside gradings too, at the same low
//   priority (the benchmark's comparison: bench/feedback_latency).
// - Mode `off`: nothing is built before a submit.
//
// Threads: every member on the io thread (results of builds are posted
// back through the IoHandoff). The destructor cancels and joins.
// Failure: a build that throws (no compiler, the cache cannot be written)
// is counted as failed and forgotten; the grading will meet the same
// failure and report it.
#pragma once

#include "exam/io_handoff.hpp"
#include "exam/job_queue.hpp"
#include "grading/compiler.hpp"

#include <atomic>
#include <cstdint>
#include <deque>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace torchexam {

enum class SpeculationMode { off, idle, always };
std::optional<SpeculationMode> parse_speculation_mode(std::string_view text);  // "off", "idle", "always"
std::string_view to_string(SpeculationMode mode);

// What the speculative builds did so far (tests and the benchmark read it).
struct SpeculationCounts {
  int started = 0;
  int built = 0;      // ran to the end (a compile error is built too: its entry is cached)
  int cancelled = 0;  // by a save, a grading, a session's end or shutdown
  int failed = 0;     // threw
  int deferred = 0;   // held back because a local grading ran
  int skipped = 0;    // a check that ended with an error, or a file changed since its save
};

class SpeculativeBuilds {
 public:
  // `io` must outlive this.
  SpeculativeBuilds(const IoHandoff& io, SpeculationMode mode);
  ~SpeculativeBuilds();
  SpeculativeBuilds(const SpeculativeBuilds&) = delete;
  SpeculativeBuilds& operator=(const SpeculativeBuilds&) = delete;

  // The watcher saw `file` of (session, task) saved: cancels the task's
  // running build, forgets its queued one and snapshots the file. Returns
  // the save's number, to give checked().
  uint64_t saved(const std::string& session, const std::string& task, const std::filesystem::path& file,
                 CompilerOptions options);
  // The save-time check of save `save` ended with `diagnostics`.
  void checked(const std::string& session, const std::string& task, uint64_t save,
               const std::vector<Diagnostic>& diagnostics);

  // A local grading of the source with SHA-256 `source_hash` starts, and ends.
  void grading_started(const std::string& source_hash);
  void grading_ended();

  // Cancels the session's build and forgets its queued ones.
  void end_session(const std::string& session);
  // Cancels everything and waits for the thread.
  void shutdown();

  SpeculationMode mode() const { return mode_; }
  bool busy() const { return running_.has_value(); }
  const SpeculationCounts& counts() const { return counts_; }

 private:
  using Key = std::pair<std::string, std::string>;  // (session, task)
  struct Snapshot {
    uint64_t save = 0;
    std::filesystem::path file;
    std::string bytes;
    CompilerOptions options;
  };
  struct Running {
    Key key;
    std::string source_hash;
    std::shared_ptr<std::atomic<bool>> cancel;
    Snapshot snapshot;
    bool requeue = false;  // cancelled for a grading: queued again after it
  };
  void pump();
  void cancel_running(const Key& key);

  const SpeculationMode mode_;
  uint64_t saves_ = 0;
  std::map<Key, Snapshot> saved_;                // the last save of each task, until checked
  std::deque<std::pair<Key, Snapshot>> queued_;  // clean saves to build, oldest first; one per task
  std::optional<Running> running_;
  int local_gradings_ = 0;
  bool stopped_ = false;
  SpeculationCounts counts_;
  WorkerThreads thread_;  // last: joined before the rest goes
};

// A JobRunner that tells SpeculativeBuilds when local gradings start and
// end, around the runner that grades them. Same threads as JobRunner.
class SpeculationAwareRunner final : public JobRunner {
 public:
  SpeculationAwareRunner(JobRunner& inner, SpeculativeBuilds& builds) : inner_(inner), builds_(builds) {}
  void start(const Job& job, const store::SubmissionRecord& rec, Done done) override;
  void prune(const std::set<int64_t>& busy) override { inner_.prune(busy); }

 private:
  JobRunner& inner_;
  SpeculativeBuilds& builds_;
};

}  // namespace torchexam
