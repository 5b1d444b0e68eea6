#!/bin/sh
# bench/eval_memory.sh — what malloc's handling of large tensors costs
# fashion_mnist's evaluation phase (10k hidden test images, batches of 1000).
#
# Grades the fashion_mnist reference cut to 20 steps an epoch once (the
# evaluation does not depend on how well the model trained), then runs that
# job's evaluation again with torchexam-runner directly, alternating in each
# round the runner's GLIBC_TUNABLES (harness/grading/runner_launch.cpp):
#   mmap      mmap threshold 32 MiB, trim threshold 2 GiB: allocations above
#             32 MiB (a batch's conv activations are 100 MB) are mapped and
#             unmapped each time, and the kernel faults in and zeroes every
#             page of the next one
#   no-mmap   the same and glibc.malloc.mmap_max=0: every allocation comes
#             from the heap, which keeps what was freed
# Same binary, model, checkpoint and inputs; 2 threads (the task's). Prints
# each run's wall time, the runner's CPU seconds and peak resident size (its
# `exit` event), its minor page faults (with /usr/bin/time), the medians,
# and whether the two settings' predictions are byte for byte the same.
#
# Usage: bench/eval_memory.sh BUILD_DIR [ROUNDS]     (needs jq)
# Uses TORCHEXAM_CACHE_DIR / TORCHEXAM_STATE_DIR like torchexam does.
set -eu
build=$(cd "$1" && pwd) rounds=${2:-3}
src=$(cd "$(dirname "$0")/.." && pwd)
cache=${TORCHEXAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/torchexam}
command -v jq >/dev/null || { echo "eval_memory.sh needs jq: apt-get install jq" >&2; exit 1; }
. "$src/bench/graded_job.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The reference with a break after the 20th step of each epoch (its `ctx.batches` loop).
awk '/for \(auto& batch : ctx.batches/ && !done { print "    int steps = 0;"; print; print "      if (++steps >= 20) break;"; done = 1; next } { print }' \
  "$src/environments/practice/fashion_mnist/reference.cpp" >"$tmp/solution.cpp"
grep -q 'steps >= 20' "$tmp/solution.cpp" || { echo "cannot find the training loop in the reference" >&2; exit 1; }

"$build/bin/torchexam" grade "$src/environments/practice" fashion_mnist "$tmp/solution.cpp" --json 2>/dev/null \
  >"$tmp/grade.json" || true
jq -r '"grade: verdict \(.verdict), accuracy \(.metric), evaluate_s \(.timings.evaluate_s) (as the harness runs it)"' \
  "$tmp/grade.json"
graded_job "$tmp/grade.json" fashion_mnist "$tmp/solution.cpp" "$cache"
base=glibc.malloc.mmap_threshold=33554432:glibc.malloc.trim_threshold=2147483647
timer=
[ -x /usr/bin/time ] && timer="/usr/bin/time -f %R -o $tmp/faults"

run() {  # SETTING ROUND
  case $1 in
    mmap) tunables=$base ;;
    no-mmap) tunables=$base:glibc.malloc.mmap_max=0 ;;
  esac
  mkdir -p "$tmp/w-$1"
  t0=$(date +%s.%N)
  GLIBC_TUNABLES=$tunables OMP_NUM_THREADS=2 GOMP_SPINCOUNT=10000 $timer "$build/bin/torchexam-runner" evaluate \
    --spec "$staged/task.json" --inputs "$staged/evaluate/inputs.arr" --workdir "$tmp/w-$1" --threads 2 \
    --solution "$lib" --checkpoint "$job/train/checkpoint.pt" --predictions "$tmp/w-$1/predictions.bin" \
    >"$tmp/events" 2>/dev/null
  t1=$(date +%s.%N)
  grep -q '"verdict":"ok"' "$tmp/events" || { cat "$tmp/events" >&2; exit 1; }
  cpu=$(jq -r 'select(.type == "exit") | .cpu_s' "$tmp/events")
  rss=$(jq -r 'select(.type == "exit") | .max_rss_kb / 1024 | floor' "$tmp/events")
  faults=-
  [ -n "$timer" ] && faults=$(tail -n 1 "$tmp/faults")
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  printf '%-8s round %s: wall %6.3f s, cpu %6.2f s, peak resident %s MiB, minor page faults %s\n' \
    "$1" "$2" "$wall" "$cpu" "$rss" "$faults"
  echo "$wall" >>"$tmp/$1.wall"
  echo "$cpu" >>"$tmp/$1.cpu"
}
median() { sort -g "$1" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

i=1
while [ "$i" -le "$rounds" ]; do
  run mmap "$i"
  run no-mmap "$i"
  i=$((i + 1))
done
if cmp -s "$tmp/w-mmap/predictions.bin" "$tmp/w-no-mmap/predictions.bin"; then same=identical; else same=different; fi
echo "predictions of the two settings: $same (byte for byte)"
echo "median wall: mmap $(median "$tmp/mmap.wall") s, no-mmap $(median "$tmp/no-mmap.wall") s ($rounds rounds)"
echo "median cpu:  mmap $(median "$tmp/mmap.cpu") s, no-mmap $(median "$tmp/no-mmap.cpu") s"
