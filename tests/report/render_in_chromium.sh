#!/bin/sh
# render_in_chromium.sh REPORT_SAMPLE PNG_CHECK OUT_DIR — a real browser shows
# the report of the hand-made session (sample_session.hpp) offline.
#
# Writes OUT_DIR/session-report.html with REPORT_SAMPLE, has headless
# Chromium render it to OUT_DIR/session-report.png (kept for a person to
# look at), and fails when
#   - Chromium logs a console message (an error, a blocked load: the page
#     has nothing to log when it is right),
#   - Chromium's network log (OUT_DIR/netlog.json) holds a request for
#     anything but the file itself (http, https, ws, data or another file),
#   - the PNG is near-uniform (PNG_CHECK: a blank or failed page).
# Exits 77 (skipped) when there is no chromium (Debian: apt-get install chromium).
set -eu
sample=$1
check=$2
out=$3
browser=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$browser" ]; then
  echo "skipped: no chromium on PATH (Debian: apt-get install chromium)"
  exit 77
fi
mkdir -p "$out"
html="$out/session-report.html"
png="$out/session-report.png"
log="$out/chromium.log"
netlog="$out/netlog.json"
rm -f "$png" "$log" "$netlog"
"$sample" "$html"
profile=$(mktemp -d "${TMPDIR:-/tmp}/torchexam-chromium.XXXXXX")
trap 'rm -rf "$profile"' EXIT
# Chromium's own sandbox needs user namespaces, which root does not get.
nosandbox=
[ "$(id -u)" -eq 0 ] && nosandbox=--no-sandbox
# No proxy that works, no background services: a request the page makes
# fails and is logged, nothing else talks to the network.
status=0
timeout 120 "$browser" --headless $nosandbox --disable-gpu --hide-scrollbars --no-first-run \
  --no-default-browser-check --disable-background-networking --disable-component-update --disable-sync \
  --disable-default-apps --disable-extensions --metrics-recording-only --no-pings \
  --disable-features=NetworkTimeServiceQuerying,MediaRouter,OptimizationHints \
  --proxy-server=127.0.0.1:9 --user-data-dir="$profile" \
  --enable-logging=stderr --v=0 --log-net-log="$netlog" \
  --window-size=1000,4000 --screenshot="$png" "file://$html" 2> "$log" || status=$?
if [ "$status" -ne 0 ] || [ ! -s "$png" ]; then
  echo "chromium failed (status $status); its log:" >&2
  cat "$log" >&2
  exit 1
fi
if grep -n 'CONSOLE' "$log" >&2; then
  echo "the page logged to the console (above)" >&2
  exit 1
fi
# Every URL in the network log but the report file itself and Chromium's
# own background services, which it calls whatever the page is (network
# time, the component updater, the signed-in accounts list; they fail at
# the dead proxy). Any other host, Google's fonts and CDNs included, fails.
browser_own='"url":"https?://(clients2\.google\.com/time/|update\.googleapis\.com/service/update2/|accounts\.google\.com/ListAccounts\?)'
urls=$(grep -o '"url":"[^"]*"' "$netlog" 2>/dev/null | sort -u | grep -v "\"url\":\"file://$html\"" |
  grep -Ev "$browser_own" || true)
if [ -n "$urls" ]; then
  echo "the page made requests:" >&2
  echo "$urls" >&2
  exit 1
fi
"$check" "$png" 8
echo "rendered $png"
