#!/bin/sh
# The proctored server tests' throw-away CA (CTest fixture torchexam_server_ca):
# runs docs/server.md's CA block (the one after `<!-- test: ca -->`) as
# written, with HOME set to OUT_DIR, so the commands the docs give are the
# ones the tests use; then adds what only the tests need: an unrelated CA
# (a client trusting only it must refuse the server) and a certificate from
# the right CA for a name that is not the server's.
# Usage: make_test_ca.sh DOCS_SERVER_MD OUT_DIR   (exit 77 without openssl)
set -eu
docs=$1
out=$2
if ! command -v openssl >/dev/null 2>&1; then
  echo "skipped: openssl is not installed (apt-get install openssl)"
  exit 77
fi
rm -rf "$out"
mkdir -p "$out"
block=$(awk '/<!-- test: ca -->/ {found = 1; next}
             found && /^```sh/ {inside = 1; next}
             inside && /^```/ {exit}
             inside {print}' "$docs")
if [ -z "$block" ]; then
  echo "make_test_ca.sh: no sh block after '<!-- test: ca -->' in $docs" >&2
  exit 1
fi
HOME=$out bash -euo pipefail -c "$block"
ca=$out/torchexam-ca
for f in ca.crt server.crt server.key; do
  [ -s "$ca/$f" ] || { echo "make_test_ca.sh: the docs' block made no $ca/$f" >&2; exit 1; }
done
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=Another CA" \
  -keyout "$out/other-ca.key" -out "$out/other-ca.crt" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=exam.invalid" \
  -keyout "$out/wrong-name.key" -out "$out/wrong-name.csr" 2>/dev/null
printf 'subjectAltName=DNS:exam.invalid\nextendedKeyUsage=serverAuth\n' > "$out/wrong-name.ext"
openssl x509 -req -in "$out/wrong-name.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" -CAcreateserial -days 2 \
  -extfile "$out/wrong-name.ext" -out "$out/wrong-name.crt" 2>/dev/null
chmod 600 "$out"/*.key
echo "test CA ready in $out"
