#!/bin/sh
# bench/time_series_eval.sh — what one-window-per-call evaluation costs the
# time_series reference.
#
# Grades the reference once (`torchexam grade --json`: its evaluate_s is the
# whole evaluation phase as a grade reports it), then runs that job's
# evaluation again with torchexam-runner directly, alternating in each round:
#   before  the staged task.json with "evaluation":{"max_batch":0,
#           "in_order":false}: any batching, i.e. one forward() call with all
#           445 test windows, as evaluation ran before the policy existed
#   after   the staged task.json as time_series declares it: 445 forward()
#           calls of one window each, in time order
# Same binary, model, checkpoint and inputs; only the policy differs. Prints
# the wall time of every runner process (start, sandbox, LibTorch, model and
# checkpoint load, forward() calls, predictions written), the medians, and
# whether the two policies' predictions are byte for byte the same.
#
# Usage: bench/time_series_eval.sh BUILD_DIR [ROUNDS]     (needs jq)
# Uses TORCHEXAM_CACHE_DIR / TORCHEXAM_STATE_DIR like torchexam does.
set -eu
build=$(cd "$1" && pwd) rounds=${2:-5}
src=$(cd "$(dirname "$0")/.." && pwd)
cache=${TORCHEXAM_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/torchexam}
. "$src/bench/graded_job.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
reference=$src/environments/practice/time_series/reference.cpp

"$build/bin/torchexam" grade "$src/environments/practice" time_series "$reference" --json 2>/dev/null >"$tmp/grade.json"
jq -r '"grade: verdict \(.verdict) score \(.score) mae \(.metric) evaluate_s \(.timings.evaluate_s) train_s \(.timings.train_s)"' \
  "$tmp/grade.json"
graded_job "$tmp/grade.json" time_series "$reference" "$cache"
cp "$staged/task.json" "$tmp/after.json"
jq -c '.evaluation = {"max_batch": 0, "in_order": false}' "$staged/task.json" >"$tmp/before.json"
threads=1  # time_series' task.yaml

run() {  # POLICY ROUND
  mkdir -p "$tmp/w-$1"
  t0=$(date +%s.%N)
  "$build/bin/torchexam-runner" evaluate --spec "$tmp/$1.json" --inputs "$staged/evaluate/inputs.arr" \
    --workdir "$tmp/w-$1" --threads "$threads" --solution "$lib" --checkpoint "$job/train/checkpoint.pt" \
    --predictions "$tmp/w-$1/predictions.bin" >"$tmp/events" 2>/dev/null
  t1=$(date +%s.%N)
  grep -q '"verdict":"ok"' "$tmp/events" || { cat "$tmp/events" >&2; exit 1; }
  cpu=$(jq -r 'select(.type == "exit") | .cpu_s' "$tmp/events")
  wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
  echo "$1 round $2: wall $wall s, cpu $cpu s"
  echo "$wall" >>"$tmp/$1.wall"
}
median() { sort -g "$1" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

i=1
while [ "$i" -le "$rounds" ]; do
  run before "$i"
  run after "$i"
  i=$((i + 1))
done
if cmp -s "$tmp/w-before/predictions.bin" "$tmp/w-after/predictions.bin"; then same=identical; else same=different; fi
echo "predictions of the two policies: $same (byte for byte)"
echo "median wall: before $(median "$tmp/before.wall") s, after $(median "$tmp/after.wall") s ($rounds rounds)"
