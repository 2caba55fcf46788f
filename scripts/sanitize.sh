#!/usr/bin/env bash
# Builds the torch-free part (critlab_base, the launcher `critlab`, critlab_base_tests) with clang-14,
# AddressSanitizer and UndefinedBehaviorSanitizer into build-asan/ and runs every case of critlab_base_tests
# under them (leak checking on; with -DCRITLAB_BASE_ONLY=ON that binary holds all of build-asan's ctest cases).
# Fails on any test failure or sanitizer report.
# The same build folder holds the fuzzers (scripts/fuzz.sh), so it is configured with CRITLAB_FUZZ too.
# libtorch code is not built sanitised: one file takes 65-85 s under ASan on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
jobs=${CRITLAB_JOBS:-$(nproc)}
dir=build-asan
command -v clang++-14 >/dev/null || { echo "sanitize: clang++-14 is not installed (scripts/setup.sh installs it)" >&2; exit 2; }

start=$SECONDS
CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCRITLAB_BASE_ONLY=ON \
  -DCRITLAB_SANITIZE=ON -DCRITLAB_FUZZ=ON -DCRITLAB_WERROR=ON >/dev/null
cmake --build "$dir" -j "$jobs" --target critlab_base critlab_cli critlab_base_tests
built=$SECONDS

# halt_on_error and abort_on_error make every report fatal; the log_path keeps reports that a child (the
# launcher run by the CLI tests) writes to its own stderr, which the tests capture.
logs="$dir/sanitizer-logs"
rm -rf "$logs" && mkdir -p "$logs"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1:check_initialization_order=1:log_path=$PWD/$logs/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$PWD/$logs/ubsan"
status=0
# Every case of critlab_base_tests but the statistical validations, one process each (ctest, as
# gtest_discover_tests listed them), $jobs at once. The validations (Compare, GaltonWatson, EdgeOfChaos, ...)
# run the same code as the unit cases on much larger samples: 60-130 s each under ASan, about 8 minutes in
# all, for no path the unit cases miss. CRITLAB_SANITIZE_ALL=1 runs them too.
label_args=(-LE validation)
[ "${CRITLAB_SANITIZE_ALL:-0}" = 1 ] && label_args=()
(cd "$dir" && ctest --output-on-failure -j "$jobs" --timeout 900 "${label_args[@]}") || status=$?
if compgen -G "$logs/*" >/dev/null; then
  echo "sanitize: sanitizer reports:" >&2
  for f in "$logs"/*; do echo "== $f" >&2; cat "$f" >&2; done
  status=1
fi
echo "sanitize: build $((built - start)) s, sanitised test run $((SECONDS - built)) s"
[ "$status" -eq 0 ] || { echo "sanitize: FAILED" >&2; exit 1; }
echo "sanitize: critlab_base_tests (${label_args[*]:-all cases}) passed under ASan+UBSan with no report"
