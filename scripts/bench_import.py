#!/usr/bin/env python3
"""Benchmark of the TorchScript import and the weight spectra on torchvision's ResNet-18 (random initialisation),
printed as JSON. Run from the repository root after the build:

    python3 scripts/bench_import.py [--critlab build/critlab] [--sizes 64,224] [--repeats 3]

- measure: `critlab measure --model resnet18.pt --input-shape 3,S,S --probe-source gaussian --probes 16
  --lyapunov-k 4 --no-dynamic-range --no-branching` (per-stage gains and the Lyapunov spectrum), its own
  `seconds` (the measurement) and the wall time of the command (start-up and loading included);
- spectra: `critlab spectra --model resnet18.pt`, and critlab.spectra in this process when the Python module
  is importable (PYTHONPATH=build/python);
- the alternative a user would write (WeightWatcher's approach): a Python + NumPy loop calling
  numpy.linalg.svd(compute_uv=False) on every weight matrix (every kh x kw slice of a convolution), float64,
  and the same loop with torch.linalg.svdvals. Ratios are the alternative's time over critlab's, measured in
  this run, best of --repeats; `max_rel_diff_log_norm` checks that both computed the same spectra.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy
import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def best_of(n, f):
    best, out = math.inf, None
    for _ in range(n):
        start = time.perf_counter()
        out = f()
        best = min(best, time.perf_counter() - start)
    return best, out


def cli(args, critlab):
    r = subprocess.run([critlab, *args, "--json"], capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit(f"bench_import: critlab {' '.join(args)}: {r.stderr.strip()}")
    return json.loads(r.stdout)


def slices(w):
    """The matrices critlab's spectra read from one weight (measure/spectra.h)."""
    if w.dim() >= 3 and w.shape[0] > 1 and w.shape[1] > 1:
        return list(w.reshape(w.shape[0], w.shape[1], -1).permute(2, 0, 1).double().numpy())
    while w.dim() > 2 and w.shape[0] == 1:
        w = w[0]
    return [w.double().numpy()] if w.dim() == 2 else []


def numpy_loop(weights):
    out = []
    for w in weights:
        ev = numpy.concatenate([numpy.linalg.svd(m, compute_uv=False) ** 2 for m in slices(w)])
        out.append(math.log10(ev[ev > 1e-10 * ev.max()].sum()))
    return out


def torch_loop(weights):
    out = []
    for w in weights:
        ev = torch.cat([torch.linalg.svdvals(torch.from_numpy(m)) ** 2 for m in slices(w)])
        out.append(math.log10(ev[ev > 1e-10 * ev.max()].sum().item()))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--critlab", default=os.path.join(REPO, "build", "critlab"))
    ap.add_argument("--sizes", default="64,224")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="critlab-bench-")
    subprocess.run([sys.executable, os.path.join(REPO, "scripts", "export_torchvision.py"), "--models", "resnet18",
                    "--out", tmp], check=True)
    model = os.path.join(tmp, "resnet18.pt")
    result = {"model": "torchvision resnet18, random initialisation, exported as 6 stages",
              "threads": torch.get_num_threads(), "measure": {}}
    for size in [int(s) for s in args.sizes.split(",")]:
        flags = ["measure", "--model", model, "--input-shape", f"3,{size},{size}", "--probe-source", "gaussian",
                 "--probes", "16", "--lyapunov-k", "4", "--no-dynamic-range", "--no-branching"]
        wall, rep = best_of(args.repeats, lambda: cli(flags, args.critlab))
        result["measure"][f"{size}x{size}"] = {
            "measure_seconds": rep["seconds"] if "seconds" in rep else None, "wall_seconds": wall,
            "stages": len(rep["layers"]), "lambda1": rep["lyapunov"][0],
            "distance_to_criticality": rep["distance_to_criticality"]}
    wall, rep = best_of(args.repeats, lambda: cli(["spectra", "--model", model], args.critlab))
    spectra = {"critlab_seconds": rep["seconds"], "critlab_wall_seconds": wall, "weights": len(rep["layers"])}
    weights = [p.detach() for p in torch.jit.load(model).parameters() if p.dim() >= 2]
    spectra["numpy_seconds"], np_log_norms = best_of(args.repeats, lambda: numpy_loop(weights))
    spectra["torch_loop_seconds"], _ = best_of(args.repeats, lambda: torch_loop(weights))
    ours = [l["log_norm"] for l in rep["layers"]]
    spectra["max_rel_diff_log_norm"] = max(abs(a - b) / abs(b) for a, b in zip(ours, np_log_norms))
    spectra["numpy_over_critlab"] = spectra["numpy_seconds"] / spectra["critlab_seconds"]
    spectra["torch_loop_over_critlab"] = spectra["torch_loop_seconds"] / spectra["critlab_seconds"]
    try:
        import critlab
        spectra["python_module_seconds"], _ = best_of(args.repeats, lambda: critlab.spectra(model))
    except ImportError:
        spectra["python_module_seconds"] = None
        spectra["python_module_seconds_status"] = "not-run: PYTHONPATH=build/python to include it"
    result["spectra"] = spectra
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
