#!/usr/bin/env bash
# Installs everything critlab needs on Debian 12 (bookworm). Idempotent: packages already present are skipped.
# Run as root (or with sudo available). Each package and why it is here is listed in README.md.
set -euo pipefail

PACKAGES=(
  cmake g++ make ccache pkg-config          # build
  clang-format-14                           # the format check (scripts/check_format.sh)
  clang-14 libclang-rt-14-dev               # sanitizers and libFuzzer (scripts/sanitize.sh, scripts/fuzz.sh)
  libtorch-dev                              # tensors + autograd (libtorch 1.13)
  libopenblas0-pthread                      # fast BLAS behind libtorch (reference BLAS is ~30x slower)
  libcli11-dev nlohmann-json3-dev libfmt-dev zlib1g-dev   # CLI, JSON, formatting, gzipped IDX files
  libigraph-dev                             # graph structure: communities, clustering, GraphML export
  libgtest-dev                              # tests
  gnuplot-nox                               # plots in run directories
  dataset-fashion-mnist                     # the data the main job trains on
  python3-torch python3-torchvision         # test fixtures saved by PyTorch, the torchvision exporter
  pybind11-dev python3-dev                  # the Python module (import critlab)
)

# One dpkg-query for all of them: apt runs only when something is missing. dpkg-query exits 1 when it knows
# of no package by one of the names (never installed), which must not end the script under `set -e`.
missing=()
installed=$({ dpkg-query -W -f='${Package} ${Status}\n' "${PACKAGES[@]}" 2>/dev/null || true; } |
  awk '/install ok installed/ {print $1}')
for p in "${PACKAGES[@]}"; do
  grep -qx "$p" <<<"$installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "setup: need root to install: ${missing[*]}" >&2; exit 1; }
    SUDO=sudo
  fi
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
fi

# OpenBLAS must be the active libblas.so.3 alternative, or libtorch falls back to the reference BLAS.
blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 2>/dev/null || true)
case "$blas" in
  *openblas*) ;;
  *) echo "setup: warning: libblas.so.3 resolves to '$blas', not OpenBLAS; run" \
          "'update-alternatives --config libblas.so.3-x86_64-linux-gnu' to select it" >&2 ;;
esac
