#!/usr/bin/env bash
# The one test command: installs what is needed, builds, and runs the whole test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
cd build
ctest --output-on-failure -j "${CRITLAB_JOBS:-$(nproc)}" "$@"
