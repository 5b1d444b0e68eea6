#!/bin/sh
# bench/references_side_by_side.sh — the five references of the practice
# exam graded by two builds of TorchExam, alternating task by task, so that
# both see the same load: what a change to the runner or its launch costs
# or saves in training and evaluation.
#
# Each task's reference is graded with `torchexam grade ENV TASK reference.cpp
# --json` by OLD_BUILD, then by NEW_BUILD (the order swapped every task);
# each grading uses its build's defaults (the new build's warm runner, its
# runner environment). Prints per grading the training and evaluation
# seconds, the peak memory the grading reports, the metric and the score,
# then the sums.
#
# Usage: bench/references_side_by_side.sh OLD_BUILD NEW_BUILD [TASK...]   (needs jq)
# Uses TORCHEXAM_CACHE_DIR / TORCHEXAM_STATE_DIR like torchexam does.
set -eu
old=$(cd "$1" && pwd) new=$(cd "$2" && pwd)
shift 2
src=$(cd "$(dirname "$0")/.." && pwd)
env=$src/environments/practice
command -v jq >/dev/null || { echo "references_side_by_side.sh needs jq: apt-get install jq" >&2; exit 1; }
tasks=${*:-regression fashion_mnist real_world_images text_classification time_series}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

grade() {  # SIDE BUILD TASK
  "$2/bin/torchexam" grade "$env" "$3" "$env/$3/reference.cpp" --json 2>"$tmp/err" >"$tmp/grade.json" || true
  jq -e .timings >/dev/null 2>&1 <"$tmp/grade.json" || { echo "$1 $3: no grading:" >&2; cat "$tmp/err" >&2; exit 1; }
  jq -r --arg side "$1" --arg task "$3" \
    '"| \($task) | \($side) | \(.timings.train_s * 10 | round / 10) | \(.timings.evaluate_s * 10 | round / 10) | \((.peak_memory_bytes // 0) / 1048576 | round) | \(.metric) | \(.score) |"' \
    <"$tmp/grade.json"
  jq -r '.timings.train_s' <"$tmp/grade.json" >>"$tmp/$1.train"
  jq -r '.timings.evaluate_s' <"$tmp/grade.json" >>"$tmp/$1.evaluate"
}
sum() { awk '{ s += $1 } END { printf "%.1f", s }' "$1"; }

echo "old: $old"
echo "new: $new"
echo "load average at the start: $(cut -d' ' -f1 /proc/loadavg)"
echo
echo "| task | build | training s | evaluation s | peak memory MiB | metric | score |"
echo "| --- | --- | ---: | ---: | ---: | --- | ---: |"
i=0
for task in $tasks; do
  if [ $((i % 2)) -eq 0 ]; then
    grade old "$old" "$task"
    grade new "$new" "$task"
  else
    grade new "$new" "$task"
    grade old "$old" "$task"
  fi
  i=$((i + 1))
done
echo
echo "training in total: old $(sum "$tmp/old.train") s, new $(sum "$tmp/new.train") s"
echo "evaluation in total: old $(sum "$tmp/old.evaluate") s, new $(sum "$tmp/new.evaluate") s"
echo "load average at the end: $(cut -d' ' -f1 /proc/loadavg)"
