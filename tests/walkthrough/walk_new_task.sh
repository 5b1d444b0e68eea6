#!/usr/bin/env bash
# walk_new_task.sh CMAKE BUILD_DIR SOURCE_DIR — docs/plugins.md's "From
# `torchexam new-task` to a graded task", typed as written, outside the
# source tree, against an install of BUILD_DIR into a temporary prefix
# (`cmake --install BUILD_DIR --prefix TMP/prefix`: the plugin is built with
# find_package(TorchExam) from that install, never from the build tree).
#
# Set-up as tests/walkthrough/walk_docs.sh: TMP/prefix/bin first on PATH, a
# fresh HOME and XDG_* folders under TMP, every TORCHEXAM_* variable unset.
# Every ```sh block of the section must carry `<!-- walkthrough -->` on the
# line before it (else the test fails); the blocks run in order in one shell
# under `set -euo pipefail`, from $HOME. One rule: "/usr/local" in a
# CMAKE_PREFIX_PATH is the temporary prefix.
#
# Then, beyond the document:
#   - the section's gradings: the reference 5/5, the starter at most 1;
#   - the written task.yaml: the loader accepts it (the grades above load it),
#     it holds the calibration comment and the proposed ladder, and every
#     line outside the ladder and its comment is as new-task wrote it;
#   - a reference no better than the starter: calibrate exits 1 saying no
#     ladder meets the rules, and --write leaves task.yaml byte for byte;
#   - new-task refuses an unknown kind and a non-empty folder, writing nothing.
# Temporary files go unless KEEP_TEST_ROOT is set.
set -euo pipefail
# shellcheck source=fresh_user.sh
. "$(dirname "$0")/fresh_user.sh"

cmake=$1 build=$(cd "$2" && pwd) source=$(cd "$3" && pwd)
doc=docs/plugins.md
section='## From `torchexam new-task` to a graded task'
root=$(cd "$(mktemp -d "${TMPDIR:-/tmp}/torchexam-new-task.XXXXXX")" && pwd -P)
say() { printf 'new_task: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
cleanup() { if [ -n "${KEEP_TEST_ROOT:-}" ]; then say "kept $root"; else rm -rf "$root"; fi; }
trap cleanup EXIT

walk_install "$cmake" "$build" "$root/prefix"
[ -f "$root/prefix/lib/cmake/TorchExam/TorchExamConfig.cmake" ] || fail "the install has no CMake package"

walk_fresh_user "$root" "$root/prefix"

# --- the section's blocks -------------------------------------------------
script="$root/walk.sh"
printf 'set -euo pipefail\ncd "$HOME"\n' >"$script"
awk -v section="$section" -v prefix="$root/prefix" -v doc="$doc" '
  $0 == section { inside = 1; next }
  inside && /^## / { inside = 0 }
  !inside { next }
  /^<!-- walkthrough -->[[:space:]]*$/ { marker = NR; next }
  /^```(sh|bash)[[:space:]]*$/ {
    if (marker != NR - 1) { printf "%s:%d: a ```sh block without <!-- walkthrough --> before it\n", doc, NR > "/dev/stderr"; bad = 1 }
    block = 1; blocks++; next
  }
  block && /^```[[:space:]]*$/ { block = 0; next }
  block { line = $0; gsub("CMAKE_PREFIX_PATH=/usr/local", "CMAKE_PREFIX_PATH=" prefix, line); print line }
  END { if (bad || blocks == 0) exit 1 }
' "$source/$doc" >"$root/commands" || fail "$doc: the section's blocks could not be read (see above)"
while IFS= read -r line; do
  printf 'printf "%%s\\n" %q >&2\n' "--- \$ $line" >>"$script"
  printf '%s\n' "$line" >>"$script"
done <"$root/commands"
bash -n "$script" || fail "the generated script $script does not parse"
say "walking $doc (log: $root/walk.log)"
set +e
bash "$script" >"$root/walk.log" 2>&1
status=$?
set -e
cat "$root/walk.log" >&2
[ "$status" = 0 ] || fail "a documented command failed (exit $status; see the log above)"

# --- what the walk must have shown ---------------------------------------
exams=$HOME/exams task=$HOME/exams/my-exam/blobs
export TORCHEXAM_PLUGIN_PATH=$task/plugin/build/plugins
# The section grades the reference, then the starter: their score lines, in order.
scores=$(sed -n 's|^score:   \([0-9]\)/5$|\1|p' "$root/walk.log" | tr '\n' ' ')
read -r ref starter rest <<<"$scores" || true
say "reference ${ref:-?}/5, starter ${starter:-?}/5"
[ -z "${rest:-}" ] && [ -n "${starter:-}" ] || fail "expected two gradings (reference, starter) in the walk, got scores: $scores"
[ "$ref" = 5 ] || fail "the reference scored $ref/5 with the calibrated ladder"
[ "$starter" -le 1 ] || fail "the starter scored $starter/5 with the calibrated ladder"

grep -q 'Calibrated by `torchexam calibrate`' "$task/task.yaml" || fail "task.yaml has no calibration comment"
grep -q '^ladder: \[' "$task/task.yaml" || fail "task.yaml has no ladder line"
mkdir "$root/fresh" && (cd "$root/fresh" && torchexam new-task my-exam/blobs --kind classification --features 4 \
  --classes 3 --data "$HOME/blobs-data" >/dev/null)
# Every line but the ladder and the comment block right above it, as new-task wrote it.
outside_ladder() { awk '/^#/ { held = held $0 "\n"; next } /^ladder:/ { held = ""; next } { printf "%s", held; held = ""; print }' "$1"; }
diff <(outside_ladder "$root/fresh/my-exam/blobs/task.yaml") <(outside_ladder "$task/task.yaml") ||
  fail "calibrate --write changed task.yaml beyond its ladder and the comment above it"

# A reference no better than the starter: no ladder, nothing written.
cp -r "$exams/my-exam" "$root/bad-exam"
cp "$root/bad-exam/blobs/starter.cpp" "$root/bad-exam/blobs/reference.cpp"
cp "$root/bad-exam/blobs/task.yaml" "$root/task.yaml.before"
set +e
torchexam calibrate "$root/bad-exam" blobs --seeds 2 --write >"$root/bad.log" 2>&1
status=$?
set -e
cat "$root/bad.log" >&2
[ "$status" = 1 ] || fail "calibrate with a reference no better than the starter exited $status, expected 1"
grep -q 'no ladder meets the rules' "$root/bad.log" || fail "calibrate did not say that no ladder meets the rules"
cmp -s "$root/task.yaml.before" "$root/bad-exam/blobs/task.yaml" || fail "a failed calibration changed task.yaml"

# new-task refuses, writing nothing.
set +e
out=$(cd "$root/fresh" && torchexam new-task my-exam/other --kind clustering 2>&1); status=$?
set -e
[ "$status" = 2 ] && [[ "$out" == *"unknown kind 'clustering'"* ]] || fail "unknown kind: exit $status: $out"
[ ! -e "$root/fresh/my-exam/other" ] || fail "an unknown kind left a folder behind"
before=$(cd "$root/fresh" && find my-exam -type f -exec sha256sum {} + | sort)
set +e
out=$(cd "$root/fresh" && torchexam new-task my-exam/blobs --kind regression 2>&1); status=$?
set -e
[ "$status" = 2 ] && [[ "$out" == *"already exists and is not an empty folder"* ]] || fail "non-empty DIR: exit $status: $out"
[ "$before" = "$(cd "$root/fresh" && find my-exam -type f -exec sha256sum {} + | sort)" ] || fail "a refused new-task changed files"
say "passed"
