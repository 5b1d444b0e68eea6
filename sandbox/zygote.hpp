// zygote.hpp — `torchexam-runner zygote`: a runner with LibTorch loaded
// that forks one child per job, so a job skips the dynamic loading and
// static initialisers every fresh runner pays (docs/benchmarks.md).
//
// Started by the harness (grading/warm_runner.hpp) with the environment its
// jobs get, it binds `--socket`, writes one line to stdout
//
//   ready <st_dev> <st_ino> <mtime_ns>     (the identity of its own executable)
//
// and serves jobs (zygote_wire.hpp) until its stdin reaches end of file
// (the harness let it go, or died). It only accepts connections from its
// parent process (SO_PEERCRED), so a job, which runs as the same user,
// cannot ask it for a child outside its own sandbox.
//
// The zygote itself never runs an OpenMP region and never starts a thread:
// fork copies one thread only, and a child forked after an OpenMP region
// hangs in it. Before each fork it checks that it is still single-threaded;
// if it is not, it refuses the job (`error`) and exits, and the harness
// starts jobs fresh.
//
// The child: its own process group, dies with the zygote (PDEATHSIG
// SIGKILL), signal dispositions and mask as the zygote had them when main
// began (what a fresh runner has at main), the job's stdio on 0-2 and no
// other descriptor, the job's environment and working directory; then it
// runs `run(argc, argv)` — the fresh runner's main — and exits with its
// result. Every sandbox layer is applied by that code, in the child, as in
// a fresh runner. The thread counts are set there too (runner.hpp:
// at::set_num_threads), and libgomp read its variables (OMP_NUM_THREADS,
// GOMP_SPINCOUNT) from the zygote's environment, which the harness makes
// the jobs' own: it keeps one zygote per runner environment.
#pragma once

namespace torchexam::sandbox {

// `argv` starts at "zygote". Returns the process exit code; in a forked
// child it does not return (it exits with run()'s result).
int zygote_main(int argc, char** argv, int (*run)(int argc, char** argv));

}  // namespace torchexam::sandbox
