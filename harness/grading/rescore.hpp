// rescore.hpp — a stored grading scored again (a regrade's `rescore`,
// docs/rejudging.md): the predictions an evaluation left, kept by the store,
// are checked and scored by the task's current plugin and mapped through
// its current ladder. No runner starts and nothing is built or trained:
// seconds, on the trusted side, like the score phase of grade().
//
// The result is the old one with what scoring decides replaced: metric,
// score, task diagnostics, message (and, for a grading that was ok, a
// verdict the predictions now earn: contract or runtime_error when the
// current task refuses them), timings.score_s, and the fingerprint's
// harness version, plugin and task definition, taken now. Everything the
// runner reported (its platform, the sandbox, the curve) stays the old
// grading's, as it is the same run.
//
// Nothing to rescore: a grading without a metric (a compile error and the
// like; one stopped by its time limit but scored on its last checkpoint has
// one), or one stored before predictions were kept, comes back unchanged
// with a note that says why (Rescored::note); a retrain regrades those.
//
// Errors: the predictions are the solution's: refused by the current task,
// the verdict becomes contract or runtime_error with score 0, as in grade().
// The harness's own faults (the plugin, staging) keep the old result, with a
// note naming the fault: a regrade never turns a score into internal_error.
// Never throws.
// Threads: any; independent calls may run at once.
#pragma once

#include "config/config.hpp"
#include "grading/fingerprint_capture.hpp"
#include "grading/grader.hpp"

#include <filesystem>
#include <string>

namespace torchexam {

struct RescoreRequest {
  const config::Environment* environment = nullptr;  // as it is now: its ladder and plugin
  const config::TaskConfig* task = nullptr;
  GradeResult before;                    // the grading scored again
  std::filesystem::path predictions;     // its stored predictions file; empty: none was kept
  std::filesystem::path cache_dir;       // staged data (empty: paths::cache_dir())
  FingerprintProbes* probes = nullptr;   // nullptr: system_fingerprint_probes()
};

struct Rescored {
  GradeResult result;
  std::string note;  // why the result repeats the old one; "" when it was scored again
};

Rescored rescore(const RescoreRequest& request);

}  // namespace torchexam
