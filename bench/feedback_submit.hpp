// feedback_submit.hpp — the submit half of bench/feedback_latency: submit ->
// first training batch on the path before issue 21 (no speculative build,
// a fresh runner per phase) and the new one (speculative builds when idle,
// the warm runner), and a grading's training time with a speculative build beside it and
// without (exam/speculative_builds.hpp). Both compare two private daemons
// side by side, their rounds interleaved, the order alternating.
//
// Threads: one; each function starts its daemons under `root` and stops them
// before it returns. Failures throw std::runtime_error with the daemon's log.
#pragma once

#include <filesystem>

namespace torchexam::bench {

// Submit -> first training batch of the regression reference, for a source
// (1) changed and submitted as soon as its clean check shows, (2) saved
// 10 s before the submit, (3) submitted again unchanged; daemons with
// --speculative-builds off --warm-runner off, and --speculative-builds idle
// --warm-runner on.
void measure_submit(const std::filesystem::path& root, int rounds);

// The training time of a grading (the regression reference set to train
// longer) while a new clean save of the task is checked and, on one side,
// built beside it: daemons with --speculative-builds off and always.
void measure_grading_beside(const std::filesystem::path& root, int rounds);

}  // namespace torchexam::bench
