// events.hpp — the runner's event stream: one JSON object per line on the
// runner's event pipe (its original stdout).
//
// Writer: torchexam-runner (untrusted: candidate code shares its process).
// Reader: the harness, which treats every line as hostile input: a malformed
// line is reported and skipped, never a crash.
//
//   {"type":"progress","phase":"batch"|"epoch",...}   training progress
//   {"type":"log","message":...}                       a line for the log
//   {"type":"result","verdict":...,"message":...}      how the phase ended
//   {"type":"sandbox","layers":[...],"notes":[...]}    the isolation layers applied
//   {"type":"platform","libtorch":...,"blas":...,...}  what the runner computes with
//   {"type":"exit","code":N|"signal":N,...}            written by the process that
//                                                      reaped the worker (init, or
//                                                      the runner in fallback mode)
//
// Candidate code shares the worker's process and can write to the pipe too,
// so every event is a claim about the candidate, never about the harness:
// none can raise a score (predictions are scored against hidden labels only
// in the trusted harness) and none can make the harness declare its own
// fault (runner_launch.hpp: a `result` claiming internal_error counts as the
// solution's runtime_error; harness faults travel on the supervisor's
// trusted channel, containment.hpp).
//
// Every string is written as valid UTF-8 (invalid bytes become U+FFFD), so a
// reader that validates never loses a line to a candidate's bytes.
#pragma once

#include "sandbox/verdict.hpp"

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace torchexam::events {

struct Progress {
  enum class Kind { batch, epoch } kind = Kind::batch;
  int epoch = 0;
  int epochs = 0;
  long long batch = 0;    // batches done in this epoch
  long long batches = 0;  // batches per epoch, 0 when unknown
  double loss = 0;        // last batch's loss, or the epoch's mean
  double samples_per_s = 0;
  double elapsed_s = 0;
  double eta_s = -1;  // seconds until the planned epochs end; -1 unknown
  double budget_left_s = 0;
  std::map<std::string, double> metrics;
  friend bool operator==(const Progress&, const Progress&) = default;
};

struct Log {
  std::string message;
};

struct Result {
  Verdict verdict = Verdict::internal_error;
  std::string message;
  std::string detail;  // e.g. expected vs actual for contract
};

// The isolation layers the runner applied before candidate code, and why any
// was weaker than the best (a claim like any event; the harness records it).
struct Sandbox {
  std::vector<std::string> layers;
  std::vector<std::string> notes;
};

// What the runner computes with, written once per phase after it set the
// thread count, the seeds and the deterministic mode, before candidate code
// is loaded (platform.hpp). Candidate code can write this event too, but
// only after the runner's own: the harness keeps the first one of a phase
// (runner_launch.hpp). It goes into the grading's fingerprint; nothing in it
// changes a verdict or a score.
struct Platform {
  std::string libtorch_version;  // "1.13.1"
  bool cxx11_abi = false;        // _GLIBCXX_USE_CXX11_ABI the runner (and LibTorch) were built with
  std::string parallel;          // at::get_parallel_info()'s backend: "OpenMP", "native thread pool"
  std::string blas_path;         // the BLAS library mapped into the runner, "" when none was found
  std::string blas_version;      // its version when it says, else ""
  int threads = 0;               // LibTorch's intra-op threads in force
  int interop_threads = 0;
  bool deterministic = false;  // at::globalContext().deterministicAlgorithms()
  friend bool operator==(const Platform&, const Platform&) = default;
};

// The runner's child ended: exactly one of code/signal is set.
struct Exit {
  std::optional<int> code;
  std::optional<int> signal;
  double cpu_s = 0;
  long long max_rss_kb = 0;
  bool timed_out = false;  // the reaper killed the worker at the wall deadline
};

using Event = std::variant<Progress, Log, Result, Exit, Sandbox, Platform>;

std::string to_json_line(const Event& e);  // no trailing newline

// Parses one line; on failure returns nullopt and sets *error.
std::optional<Event> parse_line(std::string_view line, std::string* error);

}  // namespace torchexam::events
