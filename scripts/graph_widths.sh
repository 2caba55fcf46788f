#!/usr/bin/env bash
# Issue 17's experiment: does the connectivity transition of the neural correlation graph hold at every
# width? Fashion-MNIST, 784-W-W-W-10 MLPs (ReLU and tanh), W in {128, 256, 512, 1024}, 3 seeds, 2 epochs,
# recorded; every run analysed by `critlab graph`, then finite-size scaling over all runs of one activation.
#
#   scripts/graph_widths.sh OUT [critlab binary]
#
# Resumable: a run with summary.json is not trained again, a run with graph/summary.json is not analysed
# again. Results: OUT/<act>_w<W>_s<seed>/graph/ per run; OUT/<act>_compare.json and OUT/<act>_finite_size/
# (finite-size scaling over the activation's runs).
set -euo pipefail
out=${1:?usage: scripts/graph_widths.sh OUT [critlab]}
critlab=${2:-critlab}
widths=${WIDTHS:-"128 256 512 1024"}
seeds=${SEEDS:-"0 1 2"}
acts=${ACTIVATIONS:-"relu tanh"}
mkdir -p "$out"
for act in $acts; do
  for w in $widths; do
    for s in $seeds; do
      d="$out/${act}_w${w}_s${s}"
      if [ ! -f "$d/summary.json" ]; then
        echo "train $d" >&2
        "$critlab" train --arch mlp --depth 3 --width "$w" --activation "$act" --epochs 2 --batch-size 64 \
          --lr 0.05 --seed "$s" --record --out "$d" >"$d.train.log" 2>&1 ||
          { echo "graph_widths: training $d failed; see $d.train.log" >&2; exit 1; }
      fi
    done
  done
done
for act in $acts; do
  runs=()
  for w in $widths; do for s in $seeds; do runs+=("$out/${act}_w${w}_s${s}"); done; done
  for d in "${runs[@]}"; do
    if [ ! -f "$d/graph/summary.json" ]; then
      echo "graph $d" >&2
      "$critlab" graph --run "$d" --no-pruning >"$d.graph.log" 2>&1 ||
        { echo "graph_widths: analysing $d failed; see $d.graph.log" >&2; exit 1; }
    fi
  done
  if [ "${#runs[@]}" -lt 2 ]; then
    echo "graph_widths: one run of $act; finite-size scaling needs --compare runs" >&2
  elif [ ! -f "$out/${act}_compare.json" ]; then
    echo "finite size $act" >&2
    compare=()
    for d in "${runs[@]:1}"; do compare+=(--compare "$d"); done
    "$critlab" graph --run "${runs[0]}" --out "$out/${act}_finite_size" --no-pruning --no-hebbian "${compare[@]}" \
      --json >"$out/${act}_compare.json.tmp"
    mv "$out/${act}_compare.json.tmp" "$out/${act}_compare.json"
  fi
done
echo "done: $out" >&2
