#!/usr/bin/env bash
# Builds every libFuzzer target (fuzz/*_fuzz.cpp) in build-asan/ (shared with scripts/sanitize.sh) and runs
# each for SECONDS_PER_TARGET seconds (default 60) over a copy of its seed corpus fuzz/corpus/NAME/ in
# build-asan/fuzz-work/NAME/ (the repository is never written). Fails on any crash, leak, timeout or sanitizer
# report, and prints where the reproducer is. Extra arguments go to every fuzzer (e.g. -jobs=2 -workers=2).
#   bash scripts/fuzz.sh 15                  # what CI runs
#   bash scripts/fuzz.sh 3600                # an hour per target
#   build-asan/fuzz/idx_fuzz CRASH_FILE      # re-run one reproducer
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-60}
shift || true
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
jobs=${CRITLAB_JOBS:-$(nproc)}
dir=build-asan
command -v clang++-14 >/dev/null || { echo "fuzz: clang++-14 is not installed (scripts/setup.sh installs it)" >&2; exit 2; }

CC=clang-14 CXX=clang++-14 cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Debug -DCRITLAB_BASE_ONLY=ON \
  -DCRITLAB_SANITIZE=ON -DCRITLAB_FUZZ=ON -DCRITLAB_WERROR=ON >/dev/null
cmake --build "$dir" -j "$jobs" --target critlab_fuzzers

export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:abort_on_error=1:strict_string_checks=1:detect_stack_use_after_return=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
work="$PWD/$dir/fuzz-work"
failed=()
shopt -s nullglob
for src in fuzz/*_fuzz.cpp; do
  target=$(basename "$src" .cpp)
  name=${target%_fuzz}
  corpus="$work/$name/corpus"
  artifacts="$work/$name/artifacts"
  mkdir -p "$corpus" "$artifacts"
  [ -d "fuzz/corpus/$name" ] && cp -r "fuzz/corpus/$name/." "$corpus/"
  echo "== $target: ${seconds} s over $corpus"
  log="$work/$name/fuzz.log"
  # -rss_limit_mb: a reader that allocates what a header claims instead of what the data holds is a finding.
  if "$dir/fuzz/$target" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$@" "$corpus" >"$log" 2>&1; then
    grep -E "^(#[0-9]+.*DONE|stat::number_of_executed_units|stat::average_exec_per_sec)" "$log" | tr '\n' ' '
    echo
  else
    tail -n 60 "$log" >&2
    echo "fuzz: $target FAILED; reproducer(s): $(ls "$artifacts" | sed "s|^|$artifacts/|" | tr '\n' ' ')" >&2
    echo "fuzz: re-run one with: $dir/fuzz/$target REPRODUCER   (full log: $log)" >&2
    failed+=("$target")
  fi
done
[ ${#failed[@]} -eq 0 ] || { echo "fuzz: failed: ${failed[*]}" >&2; exit 1; }
echo "fuzz: every target ran ${seconds} s without a finding"
