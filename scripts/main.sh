#!/usr/bin/env bash
# The one main command: installs what is needed, builds, then trains a network on Fashion-MNIST,
# measures its distance to criticality against mean-field theory and its avalanches, trains the same network
# with the criticality controller and measures it, runs a short continual-learning stream with every method,
# and benchmarks the build.
# Results land in runs/main/ (override with CRITLAB_RUN=DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/build.sh
run=${CRITLAB_RUN:-runs/main}
bin=build/critlab
echo "== mean-field theory: tanh, sigma_w=1.5, sigma_b=0.1"
$bin theory --activation tanh --sigma-w 1.5 --sigma-b 0.1
echo "== train a 784-256x3-10 tanh MLP on Fashion-MNIST, criticality monitored every 200 steps -> $run"
if [ -f "$run/checkpoints/state.json" ] && [ ! -f "$run/summary.json" ]; then
  $bin train --resume "$run"
elif [ ! -f "$run/summary.json" ]; then
  $bin train --arch mlp --depth 3 --width 256 --activation tanh --epochs 3 --batch-size 128 \
    --optimizer sgd --lr 0.05 --momentum 0.9 --seed 1 --monitor-every 200 --out "$run"
else
  echo "$run already holds a finished run (remove it to train again)"
fi
echo "== measure the trained network"
$bin measure --run "$run"
echo "== perturbation avalanches in the trained network"
$bin avalanches --run "$run" --probes 1000
ctl="${run}-controller"
echo "== the same network trained with the criticality controller (tolerance 0.05) -> $ctl"
if [ -f "$ctl/checkpoints/state.json" ] && [ ! -f "$ctl/summary.json" ]; then
  $bin train --resume "$ctl"
elif [ ! -f "$ctl/summary.json" ]; then
  $bin train --arch mlp --depth 3 --width 256 --activation tanh --epochs 3 --batch-size 128 \
    --optimizer sgd --lr 0.05 --momentum 0.9 --seed 1 --monitor-every 200 \
    --criticality controller --criticality-strength 0.5 --criticality-tolerance 0.05 --out "$ctl"
fi
$bin measure --run "$ctl"
cl="${run}-continual"
echo "== continual learning, a short stream: 30 permuted tasks x 5,000 examples, every method -> $cl"
$bin experiment continual --tasks 30 --examples-per-task 5000 --out "$cl"  # resumes if interrupted
sed -n '/^| method/,/^$/p' "$cl/summary.md"
echo "== benchmarks"
$bin bench --json | tee "$run/bench.json"
echo "== done: see $run/summary.json and $run/plots/"
