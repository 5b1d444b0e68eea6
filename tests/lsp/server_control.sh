#!/bin/sh
# server_control.sh start|kill9 — starts the loopback proctored server of
# with_server.sh, or kills it with SIGKILL by its pid, so that a test can
# take the server away and bring it back on the same port and state folder
# while a client stays connected (tests/lsp/nvim_reconnect.lua).
#
# Reads TORCHEXAM_SERVER_ROOT (with_server.sh's folder: the state, the log,
# server.pid and server.port), TORCHEXAM_SERVER_DAEMON (torchexamd) and
# TORCHEXAM_SERVER_CA_DIR. `start` listens on the port in server.port, or on
# any free one (written there) when there is none yet, and returns once the
# server logs that it serves TLS (30 s at most, else exit 1 with its log).
# `kill9` returns once the process is gone (a zombie counts as gone: its
# sockets are closed).
set -eu
root=$TORCHEXAM_SERVER_ROOT
case "${1:-}" in
  start)
    port=0
    [ -s "$root/server.port" ] && port=$(cat "$root/server.port")
    touch "$root/server.log"
    before=$(grep -c 'serving TLS on' "$root/server.log" || true)
    # A keep-alive timeout of 3 s: the language server sits through gradings
    # and pauses longer than that without a request of the editor's, so it
    # stays connected only by its own pings ($/ping every second).
    "$TORCHEXAM_SERVER_DAEMON" --socket "$root/server-run/daemon.sock" --state-dir "$root/server-state" \
      --listen "127.0.0.1:$port" --tls-cert "$TORCHEXAM_SERVER_CA_DIR/torchexam-ca/server.crt" \
      --tls-key "$TORCHEXAM_SERVER_CA_DIR/torchexam-ca/server.key" --server-mode practice \
      --keepalive-timeout 3 >> "$root/server.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$root/server.pid"
    # The server logs its port once it listens: wait for that line.
    deadline=$(( $(date +%s) + 30 ))
    while [ "$(grep -c 'serving TLS on' "$root/server.log" || true)" -le "$before" ]; do
      if ! kill -0 "$pid" 2>/dev/null || [ "$(date +%s)" -gt "$deadline" ]; then
        echo "server_control.sh: the server did not come up:" >&2
        cat "$root/server.log" >&2
        exit 1
      fi
      sleep 0.1
    done
    sed -n 's/.*serving TLS on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$root/server.log" | tail -n 1 > "$root/server.port"
    ;;
  kill9)
    pid=$(cat "$root/server.pid")
    kill -9 "$pid"
    while [ -e "/proc/$pid" ] && [ "$(cut -d' ' -f3 "/proc/$pid/stat" 2>/dev/null)" != Z ]; do sleep 0.05; done
    ;;
  *)
    echo "usage: server_control.sh start|kill9" >&2
    exit 2
    ;;
esac
