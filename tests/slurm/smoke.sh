#!/usr/bin/env bash
# tests/slurm/smoke.sh CASE — the Slurm test cluster behaves as the Slurm
# grading backend needs (CTest: slurm.up, slurm.smoke.*, slurm.down; see
# tests/slurm/CMakeLists.txt).
#
#   up DIR SLOTS [MEM_MB]  scripts/slurm-up into DIR
#   down DIR      scripts/slurm-down
#   uid           a job submitted by root with --uid=nobody --gid=nogroup runs as 65534:65534
#   oom           --mem=64M and a job that touches 512 MB ends OUT_OF_MEMORY (squeue --json and sacct -c)
#   setsid        scancel of a job whose child called setsid leaves no process behind
#   json          squeue --json lists finished jobs with their state and exit code
#
# The cases read TORCHEXAM_SLURM_ENV (the cluster's env file) and
# TORCHEXAM_SOURCE_DIR. They wait on conditions with deadlines, never a
# fixed sleep; a job's output goes to the cluster's jobs/ folder. Each case
# exits 77 (a skip) without root or without Slurm and munge.
set -euo pipefail

prog=smoke
source_dir=${TORCHEXAM_SOURCE_DIR:?TORCHEXAM_SOURCE_DIR is not set}
# shellcheck source=scripts/slurm-common.sh
. "$source_dir/scripts/slurm-common.sh"   # wait_until, now_us

fail() { printf 'FAIL (%s): %s\n' "$case_name" "$*" >&2; exit 1; }
case_name=${1:?usage: smoke.sh up DIR SLOTS | down DIR | uid | oom | setsid | json}

# Every case is skipped (77) where the cluster cannot run: CTest runs the
# tests that require a fixture even when its setup was skipped.
if [ "$(id -u)" -ne 0 ]; then echo "skipped: the Slurm test cluster needs root"; exit 77; fi
if ! command -v slurmctld >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "skipped: Slurm or munge is not installed (scripts/setup installs them)"; exit 77
fi

case $case_name in
  up) exec "$source_dir/scripts/slurm-up" --dir "$2" --slots "$3" ${4:+--mem-mb "$4"} ;;
  down) exec "$source_dir/scripts/slurm-down" --dir "$2" ;;
esac

env_file=${TORCHEXAM_SLURM_ENV:?TORCHEXAM_SLURM_ENV is not set}
[ -r "$env_file" ] || fail "no cluster: $env_file is missing (slurm.up brings the cluster up)"
# shellcheck source=/dev/null
. "$env_file"
jobs=$TORCHEXAM_SLURM_DIR/jobs
command -v jq >/dev/null 2>&1 || fail "jq is not installed (apt-get install jq; scripts/setup does it)"

# Submits a batch job as nobody:nogroup, the way the TorchExam daemon does; prints its id.
submit() { sbatch --parsable --uid=nobody --gid=nogroup -t 2 -o "$jobs/%j.out" "$@"; }

# The job's record in squeue --json (compact JSON), or nothing.
job_json() { squeue --json | jq -c --argjson id "$1" '.jobs[] | select(.job_id == $id)'; }
job_state() { job_json "$1" | jq -r '.job_state'; }
# The exit code the job's script returned: 22.05 (openapi v0.0.38) gives the
# raw wait status, later versions an object with return_code.
job_exit_code() {
  job_json "$1" | jq -r 'if (.exit_code | type) == "object"
    then (.exit_code.return_code | if type == "object" then .number else . end)
    else (.exit_code / 256 | floor) end'
}
job_finished() {
  case $(job_state "$1") in
    COMPLETED|FAILED|CANCELLED|TIMEOUT|OUT_OF_MEMORY|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE) return 0 ;;
    *) return 1 ;;
  esac
}
wait_finished() {
  wait_until "$2" job_finished "$1" \
    || fail "job $1 did not finish within $2 s (state: $(job_state "$1"); $(job_json "$1" | jq -c '{state_reason}'))"
}

# Pids whose command line contains $1 (this script's own never does: the
# marker is built at run time).
pids_with() {
  local f
  for f in /proc/[0-9]*/cmdline; do
    tr '\0' ' ' <"$f" 2>/dev/null | grep -qF -- "$1" && { f=${f#/proc/}; echo "${f%/cmdline}"; }
  done
  return 0
}

case $case_name in
  uid)
    id=$(submit --wrap 'id -u; id -g')
    wait_finished "$id" 30
    [ "$(job_state "$id")" = COMPLETED ] || fail "job $id ended $(job_state "$id"), not COMPLETED"
    [ "$(tr '\n' ' ' <"$jobs/$id.out")" = "65534 65534 " ] \
      || fail "job $id ran as uid/gid '$(tr '\n' ' ' <"$jobs/$id.out")', not 65534 65534"
    [ "$(job_json "$id" | jq -r '.user_id')" = 65534 ] || fail "squeue --json gives user_id $(job_json "$id" | jq -r .user_id)"
    echo "ok: job $id ran as 65534:65534"
    ;;

  oom)
    # The shell holds 512 MB of 'a's in a variable: allocated and touched.
    # shellcheck disable=SC2016  # expanded by the job, not here
    id=$(submit --mem=64M --wrap 'x=$(head -c 512M /dev/zero | tr "\0" a); echo "survived with ${#x} bytes"')
    wait_finished "$id" 60
    [ "$(job_state "$id")" = OUT_OF_MEMORY ] || fail "job $id ended $(job_state "$id"), not OUT_OF_MEMORY: $(cat "$jobs/$id.out")"
    ! grep -q survived "$jobs/$id.out" || fail "job $id got past its 64 MB limit: $(cat "$jobs/$id.out")"
    # sacct -c reads the job-completion file; its line may land just after the state.
    sacct_state() { [ "$(sacct -c -j "$id" -n -P -o State | head -n 1)" = OUT_OF_MEMORY ]; }
    wait_until 10 sacct_state || fail "sacct -c gives job $id state '$(sacct -c -j "$id" -n -P -o State 2>&1)', not OUT_OF_MEMORY"
    echo "ok: job $id ended OUT_OF_MEMORY (squeue --json and sacct -c)"
    ;;

  setsid)
    marker=torchexam-setsid-$$-$RANDOM$RANDOM
    pidfile=$jobs/$marker.pid
    # The child starts its own session and renames itself to the marker; the
    # job script then waits, as a training run would.
    id=$(submit --wrap "setsid bash -c 'echo \$\$ > $pidfile; exec -a $marker sleep 600' & sleep 600")
    child_ready() { [ -s "$pidfile" ] && [ -n "$(pids_with "$marker")" ]; }
    wait_until 30 child_ready || fail "job $id: the setsid child did not start (state $(job_state "$id"))"
    pid=$(cat "$pidfile")
    [ "$(pids_with "$marker")" = "$pid" ] || fail "marker processes '$(pids_with "$marker")' are not the child's pid $pid"
    sid=$(awk '{ print $6 }' "/proc/$pid/stat")
    [ "$sid" = "$pid" ] || fail "the child (pid $pid) is in session $sid, not a session of its own"
    scancel "$id"
    gone() { [ -z "$(pids_with "$marker")" ] && ! grep -qF -- "$marker" "/proc/$pid/cmdline" 2>/dev/null; }
    wait_until 20 gone || fail "after scancel of job $id, pid $pid ($marker) survives: $(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null)"
    cancelled() { [ "$(job_state "$id")" = CANCELLED ]; }
    wait_until 20 cancelled || fail "job $id is $(job_state "$id") after scancel, not CANCELLED"
    echo "ok: scancel of job $id killed its setsid child (pid $pid)"
    ;;

  json)
    ok=$(submit --wrap 'exit 0')
    bad=$(submit --wrap 'exit 3')
    wait_finished "$ok" 30
    wait_finished "$bad" 30
    [ "$(job_state "$ok")" = COMPLETED ] || fail "job $ok (exit 0) is $(job_state "$ok"), not COMPLETED"
    [ "$(job_exit_code "$ok")" = 0 ] || fail "job $ok (exit 0) has exit code $(job_exit_code "$ok"): $(job_json "$ok" | jq -c .exit_code)"
    [ "$(job_state "$bad")" = FAILED ] || fail "job $bad (exit 3) is $(job_state "$bad"), not FAILED"
    [ "$(job_exit_code "$bad")" = 3 ] || fail "job $bad (exit 3) has exit code $(job_exit_code "$bad"): $(job_json "$bad" | jq -c .exit_code)"
    echo "ok: squeue --json lists finished jobs $ok (COMPLETED, 0) and $bad (FAILED, 3)"
    ;;

  *) fail "unknown case '$case_name'" ;;
esac
