#!/usr/bin/env bash
# walk_server.sh CMAKE BUILD_DIR SOURCE_DIR — walks docs/server.md as an
# examiner and two candidates would type it: a proctored practice exam on
# this machine, the examiner as root and each candidate (ana, ben) as a Unix
# account of their own, in their home folder, which holds no data set.
#
# Needs root (the examiner makes the candidates' accounts) and the practice
# data sets of the invoking user (`torchexam data practice`); without either,
# and when accounts named as the page's candidates exist already, it reports
# skipped (77).
#
# Set-up (what `scripts/setup` leaves behind, without touching the system's
# TorchExam): `cmake --install BUILD_DIR --prefix TMP/prefix`, TMP/prefix/bin
# first on PATH; the examiner's HOME and XDG folders fresh under TMP (mode
# 700), every TORCHEXAM_* variable unset except TORCHEXAM_DATA_DIR (the
# invoking user's data sets); `torchexam prepare practice` in the fresh
# cache. EDITOR is a script that writes the reference of the task whose
# folder holds the file it is given (a copy under TMP that candidates may
# read): the candidate's edit.
#
# Which blocks run. Every ```sh block of docs/server.md has a marker on the
# line before its fence (or before a `<!-- test: ... -->` line there):
#   <!-- walkthrough: examiner -->        run as root, in the examiner's shell
#   <!-- walkthrough: candidate NAME -->  run as the account NAME, HOME /home/NAME
#   <!-- walkthrough: skip REASON -->     not run; REASON is printed
# Blocks run in the page's order, each in a fresh shell of its role under
# `set -euo pipefail` (aliases on) that starts in the folder where that
# role's previous block ended (the role's home at first). Lines run
# verbatim (backslash continuations joined), except, each printed:
#   - port 7443 is replaced by a free port of this machine;
#   - `torchexamd --listen ...` runs in the background (a terminal of its
#     own, in the page), and the walk goes on once it logs `serving TLS on`;
#   - `useradd ... NAME` first records NAME in /var/tmp, so that the account
#     is removed at the end, and by the next run should this one be killed.
#     Walks on one machine run one at a time (a lock beside that record).
#
# Then it checks what the walk must have shown (see the page's last
# paragraph of the section): both gradings ok 5/5, the extension, the stop,
# the report, the audit log, the folders' modes and what each candidate can
# read. The server is stopped by its pid at the end, also on failure, and the
# accounts are removed. Temporary files go unless KEEP_TEST_ROOT is set.
set -euo pipefail
# shellcheck source=fresh_user.sh
. "$(dirname "$0")/fresh_user.sh"

cmake=$1 build=$(cd "$2" && pwd) source=$(cd "$3" && pwd)
deadline_s=${WALK_DEADLINE_S:-480}
data_dir=${TORCHEXAM_DATA_DIR:-${XDG_DATA_HOME:-$HOME/.local/share}/torchexam/data}
doc=docs/server.md
accounts_file=/var/tmp/torchexam-walk-server.accounts

say() { printf 'walk_server: %s\n' "$*" >&2; }
fail() { say "FAILED: $*"; exit 1; }
skip() { say "skipped: $*"; exit 77; }

[ "$(id -u)" = 0 ] || skip "the examiner's part makes Unix accounts for the candidates: run as root"
command -v useradd >/dev/null && command -v runuser >/dev/null || skip "useradd and runuser are not installed (apt-get install passwd util-linux)"
command -v openssl >/dev/null || skip "openssl is not installed (apt-get install openssl)"

# One walk at a time on this machine (two checkouts' test runs, say): the
# accounts and their record in /var/tmp are the machine's.
exec 9>"$accounts_file.lock"
flock -w 600 9 || skip "another walk_server.sh has run on this machine for 10 minutes (lock $accounts_file.lock)"

# Accounts a killed run left behind.
remove_accounts() {
  [ -f "$accounts_file" ] || return 0
  local a
  while read -r a; do
    [ -n "$a" ] || continue
    pkill -KILL -u "$a" 2>/dev/null || true
    userdel --remove "$a" >/dev/null 2>&1 || true
  done <"$accounts_file"
  rm -f "$accounts_file"
}
remove_accounts
candidates=$(sed -n 's/^<!-- walkthrough: candidate \([a-z][a-z0-9_-]*\) -->$/\1/p' "$source/$doc" | sort -u)
[ -n "$candidates" ] || fail "$doc marks no block <!-- walkthrough: candidate NAME -->"
for c in $candidates; do
  if getent passwd "$c" >/dev/null; then skip "an account named $c exists on this machine; the walk makes and removes its own"; fi
done

root=$(mktemp -d "${TMPDIR:-/tmp}/torchexam-walk-server.XXXXXX")
chmod 755 "$root"
server_pid=
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    timeout 20 tail --pid="$server_pid" -f /dev/null || kill -KILL "$server_pid" 2>/dev/null || true
  fi
  remove_accounts
  if [ -n "${KEEP_TEST_ROOT:-}" ]; then say "kept $root"; else rm -rf "$root"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- what scripts/setup leaves behind ------------------------------------
walk_install "$cmake" "$build" "$root/prefix"
chmod -R a+rX "$root/prefix"
examiner=$root/examiner
mkdir -p "$examiner" && chmod 700 "$examiner"
walk_fresh_user "$examiner" "$root/prefix" "$data_dir"

mkdir -p "$root/solutions" "$root/blocks" "$root/cwd"
for dir in "$source"/environments/practice/*/; do
  [ -f "$dir/reference.cpp" ] && cp "$dir/reference.cpp" "$root/solutions/$(basename "$dir").cpp"
done
cat >"$root/editor" <<EDITOR
#!/bin/sh
# The candidate's edit: the reference of the task whose folder holds the file.
task=\$(basename "\$(cd "\$(dirname "\$1")" && pwd)")
cp '$root/solutions/'"\$task.cpp" "\$1"
EDITOR
chmod 755 "$root/editor"
chmod -R a+rX "$root/solutions" "$root/blocks"
chmod 755 "$root/cwd"

if ! (cd "$HOME" && torchexam data practice --check >"$root/data.log" 2>&1); then
  cat "$root/data.log" >&2
  skip "the practice data sets are not installed in $data_dir (torchexam data practice installs them)"
fi
(cd "$HOME" && torchexam prepare practice >"$root/prepare.log" 2>&1) ||
  { cat "$root/prepare.log" >&2; fail "torchexam prepare practice (the installed binary's precompiled header)"; }

port=7443
while ss -Htln "sport = :$port" | grep -q .; do port=$((port + 1)); done
[ "$port" = 7443 ] || say "port 7443 is taken here: the page's 7443 runs as $port"

# --- the page's blocks -----------------------------------------------------
# Writes one script per marked block into $root/blocks and the order to
# $root/blocks/order (NN ROLE WHERE).
n=0 prev= prev2= in_block=0 role= nblock=0 pending= pending_at=
: >"$root/blocks/order"
start_block() {  # role, line
  nblock=$((nblock + 1))
  block=$(printf '%s/blocks/%02d-%s.sh' "$root" "$nblock" "${1// /-}")
  printf '%02d %s %s:%s\n' "$nblock" "$1" "$doc" "$2" >>"$root/blocks/order"
  cat >"$block" <<'HEAD'
set -euo pipefail
shopt -s expand_aliases
walk_cwd=$1
walk_dir=$(cat "$walk_cwd" 2>/dev/null || true)
cd "${walk_dir:-$HOME}"
walk_at=
trap 'printf "walk_server: FAILED at %s (exit %s)\n" "$walk_at" "$?" >&2' ERR
trap 'pwd >"$walk_cwd"' EXIT
HEAD
}
emit() {  # where, line
  local where=$1 line=$2 command
  command=$(printf '%s' "$line" | sed 's/^[[:space:]]*#.*$//; s/[[:space:]]#.*$//; s/[[:space:]]*$//')
  [ -n "$command" ] || return 0
  local note=
  if [[ "$command" == *7443* ]]; then command=${command//7443/$port}; [ "$port" = 7443 ] || note=" (port $port)"; fi
  printf 'walk_at=%q\n' "$where" >>"$block"
  case "$command" in
    "torchexamd --listen "*)
      printf 'printf "%%s\\n" %q >&2\n' "--- $where ($role, in the background, as a terminal of its own)$note: \$ $command" >>"$block"
      # shellcheck disable=SC2016
      printf '%s >%q 2>&1 &\necho $! >%q\n' "$command" "$root/server.log" "$root/server.pid" >>"$block"
      cat >>"$block" <<WAIT
for _ in \$(seq 600); do
  grep -q 'serving TLS on' '$root/server.log' && break
  kill -0 "\$(cat '$root/server.pid')" 2>/dev/null || { cat '$root/server.log' >&2; false; }
  sleep 0.1
done
grep -q 'serving TLS on' '$root/server.log' || { cat '$root/server.log' >&2; false; }
cat '$root/server.log' >&2
WAIT
      ;;
    *)
      if [[ "$command" =~ ^useradd\ .*\ ([a-z][a-z0-9_-]*)$ ]]; then
        printf 'echo %q >>%q\n' "${BASH_REMATCH[1]}" "$accounts_file" >>"$block"
      fi
      printf 'printf "%%s\\n" %q >&2\n' "--- $where ($role)$note: \$ $command" >>"$block"
      printf '%s\n' "$command" >>"$block"
      ;;
  esac
}
while IFS= read -r line || [ -n "$line" ]; do
  n=$((n + 1))
  if [ "$in_block" = 1 ]; then
    if [[ "$line" =~ ^\`\`\`[[:space:]]*$ ]]; then
      in_block=0
      [ -z "$pending" ] || fail "$doc:$pending_at: a continued line ends the block"
    elif [ -n "$role" ]; then
      if [ -n "$pending" ]; then pending="$pending $line"; else pending=$line pending_at=$n; fi
      if [[ "$pending" == *\\ ]]; then pending=${pending%\\}; else emit "$doc:$pending_at" "$pending"; pending=; fi
    fi
  elif [[ "$line" =~ ^\`\`\`(sh|bash)[[:space:]]*$ ]]; then
    marker=$prev
    [[ "$marker" == "<!-- test: "* ]] && marker=$prev2
    if [[ "$marker" =~ ^\<!--\ walkthrough:\ (examiner|candidate\ [a-z][a-z0-9_-]*)\ --\>$ ]]; then
      role=${BASH_REMATCH[1]}
      start_block "$role" "$n"
    elif [[ "$marker" =~ ^\<!--\ walkthrough:\ skip\ (.+)\ --\>$ ]]; then
      role=
      say "$doc:$n: block skipped: ${BASH_REMATCH[1]}"
    else
      fail "$doc:$n: a \`\`\`${BASH_REMATCH[1]} block without a marker on the line before (<!-- walkthrough: examiner -->, <!-- walkthrough: candidate NAME --> or <!-- walkthrough: skip REASON -->)"
    fi
    in_block=1
  fi
  prev2=$prev prev=$line
done <"$source/$doc"
[ "$in_block" = 0 ] || fail "$doc: a code block is not closed"
[ "$nblock" -gt 0 ] || fail "$doc: no block is marked for the walkthrough"
chmod a+r "$root"/blocks/*.sh

# --- the walk ----------------------------------------------------------------
started=$(date +%s)
remaining() { echo $((deadline_s - ($(date +%s) - started))); }
candidate_path="$root/prefix/bin:/usr/local/bin:/usr/bin:/bin"
say "walking $doc (log: $root/walk.log)"
: >"$root/walk.log"
while read -r num kind who where; do
  script=$(ls "$root"/blocks/"$num"-*.sh)
  left=$(remaining)
  [ "$left" -gt 0 ] || fail "the walk did not finish within ${deadline_s} s"
  set +e
  if [ "$kind" = examiner ]; then
    timeout --kill-after=10 "$left" bash "$script" "$root/cwd/examiner" 2>&1 9>&- | tee -a "$root/walk.log"
    status=${PIPESTATUS[0]}
  else
    getent passwd "$who" >/dev/null || fail "$where: the block runs as $who, but no block before made that account"
    home=$(getent passwd "$who" | cut -d: -f6)
    [ -e "$root/cwd/$who" ] || install -o "$who" -m 600 /dev/null "$root/cwd/$who"
    timeout --kill-after=10 "$left" runuser -u "$who" -- env -i HOME="$home" USER="$who" LOGNAME="$who" \
      SHELL=/bin/bash PATH="$candidate_path" LANG=C.UTF-8 EDITOR="$root/editor" VISUAL="$root/editor" \
      bash "$script" "$root/cwd/$who" 2>&1 9>&- | tee -a "$root/walk.log"
    status=${PIPESTATUS[0]}
  fi
  set -e
  [ "$status" = 124 ] && fail "the walk did not finish within ${deadline_s} s"
  [ "$status" = 0 ] || fail "a documented command failed ($where, as ${who:-$kind}; see the line above)"
  [ -s "$root/server.pid" ] && server_pid=$(cat "$root/server.pid")
done <"$root/blocks/order"

# --- what the walk must have shown -------------------------------------------
[ -n "$server_pid" ] || fail "no block started the server (torchexamd --listen)"
if timeout 20 tail --pid="$server_pid" -f /dev/null; then server_pid=; else fail "the server still runs after 'torchexam daemon stop'"; fi
log=$root/walk.log
[ "$(grep -c '^verdict: ok$' "$log")" = 2 ] || fail "not two gradings ended in verdict ok"
if grep '^verdict: ' "$log" | grep -v '^verdict: ok$' >&2; then fail "a grading of a reference did not end in verdict ok"; fi
[ "$(grep -c '^score: *5/5$' "$log")" = 2 ] || fail "not two gradings scored 5/5"
grep -Eq '^session [0-9a-f]+ \(exam, running\) in /home/ana/exam$' "$log" ||
  fail "ana's torchexam status does not name her workspace /home/ana/exam"
grep -Eq '^session [0-9a-f]+: 5h(2[0-9]|30)m left now$' "$log" ||
  fail "exam extend --candidate ben 30m did not leave about 5h30m"
grep -E '/candidates/ana$' "$log" | grep -q ' stopped ' || fail "exam sessions does not list ana's session as stopped"
[ -s "$examiner/home/torchexam-ca/torchexam-report-ana.html" ] || fail "no torchexam-report-ana.html in ~/torchexam-ca"
for c in $candidates; do
  grep -Eq "^[0-9-]+ UTC +login +candidate $c +127\.0\.0\.1:[0-9]+ +auth/login " "$log" ||
    fail "the audit log shows no login of candidate $c from 127.0.0.1"
done
# Each upload the candidates' torchexam reported, audited by the same hash.
uploads=$(sed -n 's/^uploaded .* sha256 \([0-9a-f]\{64\}\)): submission [0-9]*$/\1/p' "$log")
[ "$(printf '%s\n' "$uploads" | grep -c .)" = 2 ] || fail "not two uploads were reported: $uploads"
for sha in $uploads; do
  grep -Eq " task/upload +task [a-z_]+, file solution\.cpp, [0-9]+ bytes, source sha256 $sha; ok$" "$log" ||
    fail "the audit log has no upload of source sha256 $sha"
done
state=$examiner/state/torchexam
[ "$(stat -c %a "$state")" = 700 ] || fail "the server's state folder $state has mode $(stat -c %a "$state"), not 700"
[ "$(stat -c %a "$state/candidates")" = 700 ] || fail "$state/candidates has mode $(stat -c %a "$state/candidates")"
for c in $candidates; do
  home=/home/$c
  for other in $candidates; do
    [ "$other" = "$c" ] && continue
    if runuser -u "$c" -- cat "/home/$other/exam/.torchexam/server.json" >/dev/null 2>&1; then
      fail "$c can read $other's workspace"
    fi
  done
  if runuser -u "$c" -- ls "$state" >/dev/null 2>&1; then fail "$c can list the server's state folder"; fi
  if runuser -u "$c" -- ls "$data_dir" >/dev/null 2>&1; then
    grep -q 'other users of this machine can read the data sets' "$root/server.log" ||
      fail "$c can read the data sets in $data_dir, and the server did not warn"
    say "note: $c can read $data_dir on this machine; the server warned"
  fi
  [ ! -e "$home/.local/share/torchexam" ] || fail "$home holds data sets ($home/.local/share/torchexam)"
  [ -z "$(find "$home" -name reference.cpp -print -quit)" ] || fail "$home holds a reference.cpp"
  [ -f "$home/exam/.torchexam/server.json" ] || fail "$c's workspace has no .torchexam/server.json"
done
say "passed in $(( $(date +%s) - started )) s"
