#!/bin/sh
# with_daemon.sh TORCHEXAM CMD [ARG...] — runs CMD next to a private torchexamd.
#
# Makes a fresh folder, points TORCHEXAM_STATE_DIR and TORCHEXAM_SOCKET into
# it (TORCHEXAM_CACHE_DIR comes from CTest: the build tree's cache, which
# holds the precompiled header), starts the daemon with `torchexam daemon
# start` (which returns once the daemon answers), runs CMD with
# TORCHEXAM_BIN and TORCHEXAM_TEST_ROOT set, then stops that daemon by its pid
# and removes the folder. The exit status is CMD's.
set -eu
TORCHEXAM_BIN=$1
shift
root=$(mktemp -d "${TMPDIR:-/tmp}/torchexam-lsp-test.XXXXXX")
export TORCHEXAM_BIN TORCHEXAM_TEST_ROOT="$root"
export TORCHEXAM_STATE_DIR="$root/state" TORCHEXAM_SOCKET="$root/run/daemon.sock"
pid=
stop() {
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    # Wait for that process to end (no sleep loop), then make sure.
    timeout 20 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -n "${KEEP_TEST_ROOT:-}" ]; then echo "kept $root" >&2; else rm -rf "$root"; fi
}
trap stop EXIT
trap 'exit 130' INT TERM
"$TORCHEXAM_BIN" daemon start --json > "$root/daemon.json"
pid=$(sed -n 's/.*"pid":\([0-9][0-9]*\).*/\1/p' "$root/daemon.json")
[ -n "$pid" ] || { echo "with_daemon.sh: no pid in $(cat "$root/daemon.json")" >&2; exit 1; }
set +e
"$@"
status=$?
set -e
if [ "$status" != 0 ] && [ -f "$root/state/daemon.log" ]; then
  echo "--- daemon.log ---" >&2
  tail -n 40 "$root/state/daemon.log" >&2
fi
exit "$status"
