#!/bin/sh
# run_short.sh — fuzzes a fuzz target (tests/fuzz/fuzz_<TARGET>.cpp, libFuzzer
# with ASan + UBSan) for a short while on a fresh copy of the seed corpus:
# the build's own fuzzer (FUZZ_BINARY), or one it builds with clang++ in its
# own folder, independent of the compiler the project is configured with.
#
# Usage: run_short.sh SOURCE_DIR BUILD_DIR TARGET SOURCES
#   SOURCE_DIR  the project's source tree
#   BUILD_DIR   a folder of this script's own (made if missing): the fuzzer,
#               the working corpus and any crash-*/timeout-* artifacts go there
#   TARGET      protocol: the wire protocol, seeds tests/fuzz/corpus;
#               server: the proctored server's request path after the login,
#               seeds tests/fuzz/corpus_server;
#               yaml: the environment loader, seeds laid out from every
#               environment in environments/ and tests/environments/ plus
#               tests/fuzz/corpus_yaml
#   SOURCES     the file listing what the target compiles besides
#               tests/fuzz/fuzz_TARGET.cpp, one path per line: CMake writes
#               it as build/tests/fuzz/TARGET_sources.txt (tests/fuzz/CMakeLists.txt
#               says why each file is there)
# Environment:
#   FUZZ_BINARY          a fuzzer already built for TARGET (the build's own:
#                        tests/fuzz/CMakeLists.txt sets it for the tests);
#                        unset or empty: the script builds one in BUILD_DIR
#   FUZZ_CLANGXX         the clang++ to use (default: clang++)
#   FUZZ_SECONDS         how long to fuzz (default: 60)
#   FUZZ_EXTRA_CXXFLAGS  more compile flags
#
# Exit status: the fuzzer's (0: nothing found; 77, libFuzzer's default
# -error_exitcode: a crash, an escaped exception, a sanitizer report or a
# broken invariant, with the input saved in BUILD_DIR), 2 for bad usage, 1
# when the build fails or FUZZ_BINARY is missing, 125 when there is neither
# FUZZ_BINARY nor clang++ (CTest: skipped).
set -eu

if [ $# -ne 4 ]; then
  echo "usage: $0 SOURCE_DIR BUILD_DIR protocol|server|yaml SOURCES_FILE" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
build=$(cd "$2" && pwd)
target=$3
if [ ! -r "$4" ]; then
  echo "run_short.sh: cannot read the source list $4 (configure the build: CMake writes it)" >&2
  exit 2
fi
sources="$src/tests/fuzz/fuzz_$target.cpp $(cat "$4")"
cxx=${FUZZ_CLANGXX:-clang++}
seconds=${FUZZ_SECONDS:-60}

if [ -z "${FUZZ_BINARY:-}" ] && ! command -v "$cxx" >/dev/null 2>&1; then
  echo "run_short.sh: no $cxx; libFuzzer needs Clang, skipping" >&2
  exit 125
fi

case "$target" in
protocol | server)
  # Boost.JSON and fmt (exam/states.cpp and the task diagnostics format
  # their errors), and OpenSSL for the protocol's TLS stream (compiled in,
  # never fuzzed), are the libraries to link (yaml-cpp and SQLite are not
  # referenced by the protocol's objects).
  libs="-lboost_json -lfmt -lssl -lcrypto"
  fuzz_args=""
  ;;
yaml)
  # yaml-cpp is the system's, not instrumented: coverage guides through
  # the loader's own code.
  libs="-lyaml-cpp -lseccomp -lcrypto -lfmt"
  fuzz_args="-dict=$src/tests/fuzz/yaml.dict"
  ;;
*)
  echo "run_short.sh: unknown target '$target' (protocol, server or yaml)" >&2
  exit 2
  ;;
esac

if [ -n "${FUZZ_BINARY:-}" ]; then
  fuzzer=$FUZZ_BINARY
  if [ ! -x "$fuzzer" ]; then
    echo "run_short.sh: FUZZ_BINARY=$fuzzer is not an executable (build the project first: cmake --build build)" >&2
    exit 1
  fi
else
  fuzzer="$build/fuzz_$target"
  echo "run_short.sh: building $fuzzer with $cxx" >&2
  # shellcheck disable=SC2086  # word splitting of $sources, $libs and the extra flags is intended
  if ! "$cxx" -std=c++20 -g -O1 -fno-omit-frame-pointer \
      -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
      -DBOOST_ASIO_NO_DEPRECATED ${FUZZ_EXTRA_CXXFLAGS:-} \
      -I"$src/harness" -I"$src" -I"$src/plugins/include" \
      $sources $libs -o "$fuzzer.new"; then
    echo "run_short.sh: building the fuzzer failed" >&2
    exit 1
  fi
  mv -f "$fuzzer.new" "$fuzzer"
fi

# A fresh copy of the seeds each run: the fuzzer adds what it finds to the
# working corpus, never to the source tree.
rm -rf "$build/corpus"
if [ "$target" = protocol ]; then
  cp -R "$src/tests/fuzz/corpus" "$build/corpus"
elif [ "$target" = server ]; then
  cp -R "$src/tests/fuzz/corpus_server" "$build/corpus"
else
  # One seed per task of every environment: environment.yaml, a NUL byte,
  # the task's task.yaml (fuzz_yaml.cpp's input format).
  mkdir -p "$build/corpus"
  for env in "$src"/environments/*/ "$src"/tests/environments/*/; do
    [ -f "$env/environment.yaml" ] || continue
    for task in "$env"*/; do
      [ -f "$task/task.yaml" ] || continue
      seed="$build/corpus/$(basename "$env")-$(basename "$task")"
      { cat "$env/environment.yaml"; printf '\000'; cat "$task/task.yaml"; } >"$seed"
    done
  done
  cp "$src"/tests/fuzz/corpus_yaml/* "$build/corpus/" 2>/dev/null || true
fi

echo "run_short.sh: fuzzing for ${seconds} s" >&2
status=0
# shellcheck disable=SC2086  # $fuzz_args is zero or more options
(
  cd "$build"
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
      -artifact_prefix="$build/" $fuzz_args corpus
) || status=$?

if [ "$status" -ne 0 ]; then
  for f in "$build"/crash-* "$build"/timeout-* "$build"/oom-* "$build"/leak-*; do
    [ -e "$f" ] && echo "run_short.sh: found $f; reproduce with: $fuzzer $f" >&2
  done
fi
exit "$status"
