#!/usr/bin/env bash
# walk_docs.sh CMAKE BUILD_DIR SOURCE_DIR — walks README.md and docs/guide.md
# as a new user would type them, against an installed TorchExam.
#
# What it sets up (what `scripts/setup` leaves behind, without touching the
# system): `cmake --install BUILD_DIR --prefix TMP/prefix`, TMP/prefix/bin
# first on PATH, a fresh HOME and fresh XDG_{CONFIG,CACHE,DATA,STATE}_HOME and
# XDG_RUNTIME_DIR under TMP, every TORCHEXAM_* variable unset except
# TORCHEXAM_DATA_DIR, which points at the data sets the invoking user
# installed (`torchexam data practice`; they come from package files, which a
# test does not download: without them the test reports skipped, 77), and
# `torchexam prepare practice` (the installed binary builds the precompiled
# header in the fresh cache, as it does for any new user). EDITOR is a script
# that writes tests/solutions/small_ok.cpp into the file it is given: the
# user's edit.
#
# Which blocks run. Every ```sh (or ```bash) block of the two documents must
# carry a marker on the line just before its opening fence, else the test
# fails (a new block is never skipped silently):
#   <!-- walkthrough -->               the block is run
#   <!-- walkthrough: skip REASON -->  it is not, and REASON is printed
# A marker without a ```sh block right after it is an error too. The marked
# blocks of a document run in order in one shell (so `cd` carries over, as in
# a terminal) under `set -euo pipefail`, starting in the folder the document
# is read in: README.md in the repository's root, docs/guide.md in docs/.
# Lines are run verbatim (backslash continuations joined), except for these
# rules, each printed when it applies:
#   - `scripts/setup ...`: skipped; the set-up above stands for it.
#   - `ctest ...`: skipped; it is the test suite this test belongs to.
#   - `torchexam grade ...` without `--limit`: skipped (the full data set
#     takes minutes); the README gives the same command with `--limit` as a
#     quick check, which runs.
#   - `torchexam doctor ...` without `--no-forecast`: run with `--no-forecast`
#     (the forecast trains every task's reference, a minute or two).
#
# Then, in the workspace the README laid out (~/exam), each task's README.md
# must have a "Grade it:" line; fashion_mnist's commands run from
# ~/exam/fashion_mnist under the same rules, and every other task's line must
# read the same with its own task id.
#
# The test fails when a command fails, when any result printed is not
# "verdict: ok" (the small solution is correct, so anything else is a broken
# installation: a missing SDK header is a compile_error, which exits 0), when
# the workspace was not set up against the installed SDK, or when no
# `torchexam grade` or `torchexam submit` ran at all. The daemon that the
# walk starts is stopped at the end by its pid, also on failure; the whole
# walk runs under a deadline below CTest's TIMEOUT so that this clean-up
# happens. Temporary files go unless KEEP_TEST_ROOT is set.
set -euo pipefail
# shellcheck source=fresh_user.sh
. "$(dirname "$0")/fresh_user.sh"

cmake=$1 build=$(cd "$2" && pwd) source=$(cd "$3" && pwd)
deadline_s=${WALK_DEADLINE_S:-420}
data_dir=${TORCHEXAM_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/torchexam/data}

root=$(cd "$(mktemp -d "${TMPDIR:-/tmp}/torchexam-walk.XXXXXX")" && pwd -P)
say() { printf 'walkthrough: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }

private_env=0  # 1 once HOME, XDG_* and PATH point into $root
stop_daemon() {
  local status pid exe="$root/prefix/bin/torchexam"
  # Only the daemon of this walk: its socket is under our XDG_RUNTIME_DIR.
  [ "$private_env" = 1 ] && [ -x "$exe" ] || return 0
  status=$("$exe" daemon status --json 2>/dev/null) || return 0
  pid=$(printf '%s' "$status" | sed -n 's/.*"pid":\([0-9][0-9]*\).*/\1/p')
  "$exe" daemon stop >/dev/null 2>&1 || true
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    # Wait for that process to end (no sleep loop), then make sure.
    timeout 20 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
  fi
}
cleanup() {
  stop_daemon
  if [ -n "${KEEP_TEST_ROOT:-}" ]; then say "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- what scripts/setup leaves behind ------------------------------------
walk_install "$cmake" "$build" "$root/prefix"
private_env=1
walk_fresh_user "$root" "$root/prefix" "$data_dir"

cat >"$root/editor" <<EDITOR
#!/bin/sh
# The user's edit: a small, correct fashion_mnist solution.
cp '$source/tests/solutions/small_ok.cpp' "\$1"
EDITOR
chmod +x "$root/editor"
export EDITOR="$root/editor" VISUAL="$root/editor"

if ! (cd "$HOME" && torchexam data practice --check >"$root/data.log" 2>&1); then
  cat "$root/data.log" >&2
  say "skipped: the practice data sets are not installed in $data_dir (torchexam data practice installs them)"
  exit 77
fi
(cd "$HOME" && torchexam prepare practice) || fail "torchexam prepare practice (the installed binary's precompiled header)"

# --- the documents -------------------------------------------------------
script="$root/walk.sh"
cat >"$script" <<'HEAD'
set -euo pipefail
walk_at=
trap 'printf "walkthrough: FAILED at %s (exit %s)\n" "$walk_at" "$?" >&2' ERR
HEAD

# Appends to $script the commands of `line` (from `where`), under the rules.
emit() {
  local where=$1 line=$2 command comment=
  command=$(printf '%s' "$line" | sed 's/[[:space:]]#.*$//; s/[[:space:]]*$//')
  [ "$command" != "$line" ] && comment=${line:${#command}}
  [ -n "$command" ] || return 0
  local rule=
  case "$command" in
    scripts/setup*) rule="skipped: scripts/setup is what this test's set-up stands for" ;;
    ctest*) rule="skipped: the test suite this test belongs to" ;;
    *"torchexam grade "*)
      case " $command " in *" --limit "*) ;; *) rule="skipped: full-data grading takes minutes (the README's --limit line beside it runs)" ;; esac ;;
    *"torchexam doctor"*)
      case " $command " in
        *" --no-forecast "*) ;;
        *) rule="run with --no-forecast (the forecast trains every reference)"
           command="$command --no-forecast" ;;
      esac ;;
  esac
  printf 'walk_at=%q\n' "$where" >>"$script"
  case "$rule" in
    skipped:*) printf 'printf "%%s\\n" %q >&2\n' "--- $where: $rule: $line" >>"$script"; return 0 ;;
  esac
  printf 'printf "%%s\\n" %q >&2\n' "--- $where${rule:+ ($rule)}: \$ $command" >>"$script"
  printf '%s%s\n' "$command" "$comment" >>"$script"
  case "$command" in *"torchexam grade "* | *"torchexam submit "*) printf ': graded\n' >>"$root/graded" ;; esac
}

# Appends the marked blocks of `doc` (relative to the source), run from `dir`.
walk_document() {
  local doc=$1 dir=$2 n=0 marker= reason= marker_line=0 in_block=0 mode= pending= pending_at=
  printf 'cd %q\n' "$dir" >>"$script"
  local runs=0
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    if [ "$in_block" = 1 ]; then
      if [[ "$line" =~ ^\`\`\`[[:space:]]*$ ]]; then
        in_block=0
        [ -z "$pending" ] || fail "$doc:$pending_at: a continued line ends the block"
        continue
      fi
      [ "$mode" = run ] || continue
      if [ -n "$pending" ]; then pending="$pending ${line}"; else pending=$line pending_at=$n; fi
      if [[ "$pending" == *\\ ]]; then pending=${pending%\\}; continue; fi
      emit "$doc:$pending_at" "$pending"
      pending=
      continue
    fi
    if [[ "$line" =~ ^\<!--\ walkthrough(:\ skip\ (.+))?\ --\>[[:space:]]*$ ]]; then
      marker_line=$n
      if [ -n "${BASH_REMATCH[1]}" ]; then marker=skip reason=${BASH_REMATCH[2]}; else marker=run reason=; fi
      continue
    fi
    if [[ "$line" =~ ^\`\`\`(sh|bash)[[:space:]]*$ ]]; then
      [ "$marker_line" = $((n - 1)) ] || fail "$doc:$n: a \`\`\`${BASH_REMATCH[1]} block without a marker on the line before (<!-- walkthrough --> or <!-- walkthrough: skip REASON -->)"
      in_block=1
      if [ "$marker" = run ]; then mode=run runs=$((runs + 1)); else
        mode=skip
        printf 'printf "%%s\\n" %q >&2\n' "--- $doc:$n: block skipped: $reason" >>"$script"
      fi
      marker_line=0
      continue
    fi
    [ "$marker_line" = 0 ] || [ "$marker_line" = "$n" ] || fail "$doc:$marker_line: a walkthrough marker not followed by a \`\`\`sh block"
  done <"$source/$doc"
  [ "$in_block" = 0 ] || fail "$doc: a code block is not closed"
  [ "$runs" -gt 0 ] || fail "$doc: no block is marked <!-- walkthrough -->"
}

: >"$root/graded"
walk_document README.md "$source"
walk_document docs/guide.md "$source/docs"

# The task statements in the workspace the README laid out.
exam=$HOME/exam
grade_line() { grep -m1 '^Grade it' "$1" || true; }
printf 'walk_at="the workspace %s"\n' "$exam" >>"$script"
printf 'cd %q\n' "$exam/fashion_mnist" >>"$script"
printf 'walk_task_readme=%q\n' "$exam/fashion_mnist/README.md" >>"$script"
cat >>"$script" <<'TASKS'
[ -f "$walk_task_readme" ] || { echo "walkthrough: the README's walk laid out no $walk_task_readme" >&2; exit 1; }
TASKS
bash -n "$script" || fail "the generated script $script does not parse"

# The task READMEs are read once the workspace exists: generate their part
# after the README's part has run. Run in two steps under one deadline.
started=$(date +%s)
remaining() { echo $((deadline_s - ($(date +%s) - started))); }
say "walking README.md and docs/guide.md (log: $root/walk.log)"
set +e
timeout --kill-after=10 "$(remaining)" bash "$script" 2>&1 | tee "$root/walk.log"
status=${PIPESTATUS[0]}
set -e
[ "$status" = 124 ] && fail "the walk did not finish within ${deadline_s} s"
[ "$status" = 0 ] || fail "a documented command failed (see the line above)"

task_script="$root/walk_tasks.sh"
script=$task_script
printf 'set -euo pipefail\nwalk_at=\ntrap '\''printf "walkthrough: FAILED at %%s (exit %%s)\\n" "$walk_at" "$?" >&2'\'' ERR\n' >"$script"
printf 'cd %q\n' "$exam/fashion_mnist" >>"$script"
reference=$(grade_line "$exam/fashion_mnist/README.md")
[ -n "$reference" ] || fail "$exam/fashion_mnist/README.md has no 'Grade it' line"
commands=$(printf '%s\n' "$reference" | grep -o '`torchexam [^`]*`' | tr -d '`')
[ -n "$commands" ] || fail "the 'Grade it' line of fashion_mnist names no torchexam command: $reference"
while IFS= read -r c; do emit "workspace fashion_mnist/README.md" "$c"; done <<<"$commands"
for dir in "$exam"/*/; do
  task=$(basename "$dir")
  [ "$task" = fashion_mnist ] && continue
  line=$(grade_line "$dir/README.md")
  [ "$line" = "${reference//fashion_mnist/$task}" ] ||
    fail "$task/README.md: 'Grade it' line differs from fashion_mnist's: '$line'"
done
set +e
timeout --kill-after=10 "$(remaining)" bash "$script" 2>&1 | tee -a "$root/walk.log"
status=${PIPESTATUS[0]}
set -e
[ "$status" = 124 ] && fail "the walk did not finish within ${deadline_s} s"
[ "$status" = 0 ] || fail "a documented command failed (see the line above)"

# --- what the walk must have shown ---------------------------------------
[ -s "$root/graded" ] || fail "no torchexam grade or torchexam submit ran"
if grep '^verdict: ' "$root/walk.log" | grep -v '^verdict: ok$' >&2; then
  fail "a grading of the small, correct solution did not end in verdict ok"
fi
grep -q '^verdict: ok$' "$root/walk.log" || fail "no grading printed its verdict"
grep -q -- "-I$root/prefix/include\"" "$exam/fashion_mnist/compile_commands.json" ||
  fail "the workspace's compile_commands.json does not use the installed SDK ($root/prefix/include)"
grep -q "cd $exam && torchexam submit TASK --wait" "$root/walk.log" ||
  fail "torchexam start's hint is not 'cd $exam && torchexam submit TASK --wait'"
say "passed in $(( $(date +%s) - started )) s"
