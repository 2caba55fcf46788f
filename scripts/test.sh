#!/usr/bin/env bash
# The one test command: installs what is needed, checks the formatting, builds with warnings as errors, runs
# the whole test suite (arguments go to ctest, e.g. -L unit), then the torch-free tests under AddressSanitizer
# and UndefinedBehaviorSanitizer (scripts/sanitize.sh) and every fuzz target for 15 s (scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/check_format.sh
bash scripts/build.sh -DCRITLAB_WERROR=ON
(cd build && ctest --output-on-failure -j "${CRITLAB_JOBS:-$(nproc)}" "$@")
bash scripts/sanitize.sh
bash scripts/fuzz.sh 15
