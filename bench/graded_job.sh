# bench/graded_job.sh — sourced by the benchmarks that re-run a graded job's
# evaluation with torchexam-runner directly (time_series_eval.sh,
# eval_memory.sh).
#
# graded_job GRADE_JSON TASK SOLUTION CACHE: from `torchexam grade --json`'s
# output, sets `job` (the job folder, with train/checkpoint.pt), `staged`
# (the staged task folder, with task.json and evaluate/inputs.arr) and `lib`
# (the built library of SOLUTION in CACHE's build cache); exits 1 saying
# which is missing.
graded_job() {
  job=$(jq -r .job_dir "$1")
  staged=$(jq -r --arg task "$2" \
    '.log[] | select(test("^staged (data reused from|" + $task + ")")) | capture(" (from|in) (?<d>/[^ ]+)").d' \
    "$1" | head -n 1)
  lib=
  for d in "$4"/builds/*/; do
    if cmp -s "$d/solution.cpp" "$3"; then lib=$d/libsolution.so; fi
  done
  [ -n "$lib" ] || { echo "cannot find the built library of $3 in $4/builds" >&2; exit 1; }
  [ -f "$job/train/checkpoint.pt" ] || { echo "cannot find the checkpoint $job/train/checkpoint.pt" >&2; exit 1; }
  [ -f "$staged/task.json" ] || { echo "cannot find the staged task of $2 (the grading's log names none)" >&2; exit 1; }
}
