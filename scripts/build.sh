#!/usr/bin/env bash
# Configures and builds critlab into build/ (Release). Extra arguments go to cmake's configure step.
set -euo pipefail
cd "$(dirname "$0")/.."
# The precompiled header needs these for ccache to hit; the cache itself is the user default (~/.cache/ccache),
# so fresh clones on one machine share it.
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
jobs=${CRITLAB_JOBS:-$(nproc)}
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build -j "$jobs"
