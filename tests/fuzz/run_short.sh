#!/bin/sh
# run_short.sh — builds tests/fuzz/fuzz_protocol.cpp with clang++ and libFuzzer
# (ASan + UBSan) in its own folder, independent of the compiler the project is
# configured with, then fuzzes for a short while on a copy of the seed corpus.
#
# Usage: run_short.sh SOURCE_DIR BUILD_DIR
#   SOURCE_DIR  the project's source tree
#   BUILD_DIR   a folder of this script's own (made if missing): the fuzzer,
#               the working corpus and any crash-*/timeout-* artifacts go there
# Environment:
#   FUZZ_CLANGXX         the clang++ to use (default: clang++)
#   FUZZ_SECONDS         how long to fuzz (default: 60)
#   FUZZ_EXTRA_CXXFLAGS  more compile flags
#
# Exit status: the fuzzer's (0: nothing found; 77, libFuzzer's default
# -error_exitcode: a crash, an escaped exception, a sanitizer report or a
# broken invariant, with the input saved in BUILD_DIR), 2 for bad usage, 1
# when the build fails, 125 when there is no clang++ (CTest: skipped).
set -eu

if [ $# -ne 2 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
build=$(cd "$2" && pwd)
cxx=${FUZZ_CLANGXX:-clang++}
seconds=${FUZZ_SECONDS:-60}

if ! command -v "$cxx" >/dev/null 2>&1; then
  echo "run_short.sh: no $cxx; libFuzzer needs Clang, skipping" >&2
  exit 125
fi

# The protocol layer and what its objects reference, nothing more: every
# conversion reads through harness/base/json_shape.cpp; messages.cpp's
# task summaries and submissions need the Diagnostic, GradeResult and curve
# conversions of grade_json.cpp, which need to_string/parse_verdict from
# sandbox/verdict.cpp and to_valid_utf8 from sandbox/text.cpp; the exam
# summary's and env/verify's checks and forecasts need harness/doctor/json.cpp
# and check.cpp (to_string(Status)). Everything else is in headers; only
# Boost.JSON is a library to link (fmt, yaml-cpp, OpenSSL, SQLite are not
# referenced).
# All of it is compiled here, so all of it is coverage-instrumented.
sources="
  $src/tests/fuzz/fuzz_protocol.cpp
  $src/harness/protocol/framing.cpp
  $src/harness/protocol/jsonrpc.cpp
  $src/harness/protocol/messages.cpp
  $src/harness/base/json_shape.cpp
  $src/harness/grading/grade_json.cpp
  $src/sandbox/verdict.cpp
  $src/sandbox/text.cpp
  $src/harness/doctor/check.cpp
  $src/harness/doctor/json.cpp
"
echo "run_short.sh: building $build/fuzz_protocol with $cxx" >&2
# shellcheck disable=SC2086  # word splitting of $sources and the extra flags is intended
if ! "$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer \
    -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
    -DBOOST_ASIO_NO_DEPRECATED ${FUZZ_EXTRA_CXXFLAGS:-} \
    -I"$src/harness" -I"$src" -I"$src/plugins/include" \
    $sources -lboost_json -o "$build/fuzz_protocol.new"; then
  echo "run_short.sh: building the fuzzer failed" >&2
  exit 1
fi
mv -f "$build/fuzz_protocol.new" "$build/fuzz_protocol"

# A fresh copy of the seeds each run: the fuzzer adds what it finds to the
# working corpus, never to the source tree.
rm -rf "$build/corpus"
cp -R "$src/tests/fuzz/corpus" "$build/corpus"

echo "run_short.sh: fuzzing for ${seconds} s" >&2
status=0
(
  cd "$build"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    ./fuzz_protocol -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/" corpus
) || status=$?

if [ "$status" -ne 0 ]; then
  for f in "$build"/crash-* "$build"/timeout-* "$build"/oom-* "$build"/leak-*; do
    [ -e "$f" ] && echo "run_short.sh: found $f; reproduce with: $build/fuzz_protocol $f" >&2
  done
fi
exit "$status"
