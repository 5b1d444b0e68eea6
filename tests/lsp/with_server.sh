#!/bin/sh
# with_server.sh TORCHEXAM TORCHEXAMD CA_DIR CMD [ARG...] — runs CMD against a
# private proctored server (docs/server.md) on loopback.
#
# Starts TORCHEXAMD with --listen 127.0.0.1:0 and the test CA's certificate
# (CA_DIR: what the CTest fixture server.ca made; without it: exit 77,
# skipped) in practice mode, issues candidate ana a token for the tiny exam,
# then runs CMD with TORCHEXAM_BIN, TORCHEXAM_TEST_ROOT, TORCHEXAM_SERVER
# (127.0.0.1:PORT), TORCHEXAM_CA_FILE and TORCHEXAM_TOKEN_FILE set, and the
# client's own state and socket in a folder of their own (no local daemon
# takes part). CMD may kill the server and start it again on the same port
# and state folder with $TORCHEXAM_SERVER_CONTROL kill9|start
# (server_control.sh). Stops the server by its pid and removes the folder.
# The exit status is CMD's.
set -eu
TORCHEXAM_BIN=$1
daemon=$2
ca=$3
shift 3
if [ ! -f "$ca/torchexam-ca/server.crt" ]; then
  echo "skipped: no test CA in $ca (the CTest fixture server.ca makes it with openssl)"
  exit 77
fi
root=$(mktemp -d "${TMPDIR:-/tmp}/torchexam-lsp-server-test.XXXXXX")
export TORCHEXAM_BIN TORCHEXAM_TEST_ROOT="$root"
export TORCHEXAM_STATE_DIR="$root/client-state" TORCHEXAM_SOCKET="$root/client-run/daemon.sock"
export TORCHEXAM_SERVER_ROOT="$root" TORCHEXAM_SERVER_DAEMON="$daemon" TORCHEXAM_SERVER_CA_DIR="$ca"
export TORCHEXAM_SERVER_CONTROL="$(cd "$(dirname "$0")" && pwd)/server_control.sh"
state="$root/server-state"
stop() {
  # The server running now: the first one, or one CMD restarted.
  pid=$(cat "$root/server.pid" 2>/dev/null || true)
  if [ -n "$pid" ] && kill "$pid" 2>/dev/null; then
    timeout 20 tail --pid="$pid" -f /dev/null || kill -9 "$pid" 2>/dev/null || true
  fi
  if [ -n "${KEEP_TEST_ROOT:-}" ]; then echo "kept $root" >&2; else rm -rf "$root"; fi
}
trap stop EXIT
trap 'exit 130' INT TERM
mkdir -p "$root/server-run"
chmod 700 "$root/server-run"
"$TORCHEXAM_SERVER_CONTROL" start
port=$(cat "$root/server.port")
"$daemon" --state-dir "$state" --add-candidate ana --environment "$TORCHEXAM_SOURCE_DIR/tests/environments/tiny" \
  > "$root/admin.out" 2>&1
grep -o 'txm1\.[0-9a-f]*\.[0-9a-f]*' "$root/admin.out" | head -n 1 > "$root/ana.token"
chmod 600 "$root/ana.token"
[ -s "$root/ana.token" ] || { echo "with_server.sh: no token in $(cat "$root/admin.out")" >&2; exit 1; }
export TORCHEXAM_SERVER="127.0.0.1:$port" TORCHEXAM_CA_FILE="$ca/torchexam-ca/ca.crt" TORCHEXAM_TOKEN_FILE="$root/ana.token"
set +e
"$@"
status=$?
set -e
if [ "$status" != 0 ]; then
  echo "--- server.log ---" >&2
  tail -n 40 "$root/server.log" >&2
fi
exit "$status"
