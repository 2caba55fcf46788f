#!/usr/bin/env python3
"""Benchmark of critlab's Hessian instruments against PyHessian-style code in Python, side by side, printed as
JSON. Run from the repository root after the build:

    python3 scripts/bench_landscape.py [--critlab build/critlab] [--examples 1000] [--repeats 3] [--threads 2]

The network is a 784-512x3-10 ReLU MLP built in this process (PyTorch's default initialisation, seed 0) and saved
as TorchScript, so critlab (`critlab landscape --model`) and Python look at the same weights; the data are the
same 1,000 class-stratified Fashion-MNIST training images (critlab's stratified_subset and normalisation).

Python side (what a PyHessian user runs; PyHessian's algorithms, Yao et al. 2020, written out here because
PyHessian is not packaged for Debian): the gradient with create_graph, Hessian-vector products by
torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True), the top eigenvalue by power iteration
stopping when the relative change is below --tol (PyHessian's rule, at most 100 iterations) and the trace by
Hutchinson with Rademacher probes (a fixed --probes, the same number critlab is given).

critlab side: `critlab landscape --model net.pt --top-k 1 --tol TOL --trace-probes N --trace-rel-se 0 --slice
none --json`; its own `timing` (gradient_s, setup_s, hvp_s, eigen_s, trace_s) and the command's wall time.
Ratios are Python's time over critlab's, best of --repeats, measured in this run.
"""
import argparse
import gzip
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import numpy
import torch

from bench_import import best_of  # best of n timed calls, and the result

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def idx(path):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    nd = data[3]
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(nd)]
    return numpy.frombuffer(data[4 + 4 * nd:], dtype=numpy.uint8).reshape(dims)


def fashion(n):
    d = os.environ.get("CRITLAB_DATA", "/usr/share/datasets/fashion-mnist")
    files = os.listdir(d)
    pick = lambda stem: os.path.join(d, next(f for f in files if f.startswith(stem)))
    x = idx(pick("train-images")).astype(numpy.float32) / 255
    y = idx(pick("train-labels")).astype(numpy.int64)
    mean, std = x.mean(), x.std()
    per = {c: list(numpy.where(y == c)[0]) for c in range(10)}
    order, i = [], 0
    while len(order) < n:  # round-robin over classes in label order (data/dataset.h stratified_subset)
        for c in range(10):
            if len(order) < n:
                order.append(per[c][i])
        i += 1
    xs = torch.tensor((x[order] - mean) / std).reshape(n, 1, 28, 28)
    return xs, torch.tensor(y[order])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--critlab", default=os.path.join(REPO, "build", "critlab"))
    ap.add_argument("--examples", type=int, default=1000)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--tol", type=float, default=1e-3)
    ap.add_argument("--probes", type=int, default=100)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    layers = [torch.nn.Flatten()]
    width = 784
    for _ in range(3):
        layers += [torch.nn.Linear(width, 512), torch.nn.ReLU()]
        width = 512
    layers.append(torch.nn.Linear(width, 10))
    net = torch.nn.Sequential(*layers).eval()
    x, y = fashion(a.examples)
    params = [p for p in net.parameters() if p.requires_grad]
    loss_fn = torch.nn.CrossEntropyLoss()
    opt = torch.optim.SGD(net.parameters(), lr=0.0)  # lr 0: the step's work without moving the weights

    def train_step():
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()

    train_step()
    t_step, _ = best_of(a.repeats, train_step)
    grads = torch.autograd.grad(loss_fn(net(x), y), params, create_graph=True)

    def hvp(v):
        return torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)

    v0 = [torch.randn_like(p) for p in params]
    t_hvp, _ = best_of(a.repeats, lambda: hvp(v0))

    def power_iteration():
        torch.manual_seed(1)
        v = [torch.randn_like(p) for p in params]
        eig, it = None, 0
        for it in range(1, 101):
            norm = torch.sqrt(sum((u * u).sum() for u in v))
            v = [u / norm for u in v]
            hv = hvp(v)
            new = sum((h * u).sum() for h, u in zip(hv, v)).item()
            v = [h.detach() for h in hv]
            if eig is not None and abs(new - eig) / (abs(eig) + 1e-6) < a.tol:
                eig = new
                break
            eig = new
        return eig, it

    t_eig, (py_eig, py_iters) = best_of(a.repeats, power_iteration)

    def hutchinson():
        torch.manual_seed(2)
        vals = []
        for _ in range(a.probes):
            v = [torch.randint_like(p, high=2) * 2 - 1 for p in params]
            vals.append(sum((h * u).sum() for h, u in zip(hvp(v), v)).item())
        return float(numpy.mean(vals)), float(numpy.std(vals, ddof=1) / math.sqrt(len(vals)))

    t_trace, (py_trace, py_trace_se) = best_of(a.repeats, hutchinson)

    with tempfile.TemporaryDirectory() as tmp:
        model = os.path.join(tmp, "net.pt")
        torch.jit.script(net).save(model)
        args = [a.critlab, "landscape", "--model", model, "--input-shape", "1,28,28", "--examples", str(a.examples),
                "--top-k", "1", "--tol", str(a.tol), "--trace-probes", str(a.probes), "--trace-rel-se", "0",
                "--slice", "none", "--threads", str(a.threads), "--json"]
        runs = []
        for _ in range(a.repeats):
            t0 = time.perf_counter()
            r = subprocess.run(args, capture_output=True, text=True)
            wall = time.perf_counter() - t0
            if r.returncode != 0:
                sys.exit("bench_landscape: " + r.stderr.strip())
            j = json.loads(r.stdout)
            runs.append((wall, j))
    best = lambda key: min(j["timing"][key] for _, j in runs)
    j = runs[0][1]
    cl = {k: best(k) for k in ("gradient_s", "setup_s", "hvp_s", "eigen_s", "trace_s")}
    out = {
        "network": "784-512x3-10 relu",
        "parameters": j["parameters"],
        "examples": a.examples,
        "threads": a.threads,
        "critlab": {**cl, "wall_s": min(w for w, _ in runs), "lambda_max": j["hessian"]["eigenvalues"][0],
                    "lanczos_iterations": j["hessian"]["iterations"], "trace": j["hessian"]["trace"],
                    "trace_se": j["hessian"]["trace_se"],
                    "hvp_over_gradient": cl["hvp_s"] / cl["gradient_s"]},
        "python": {"train_step_s": t_step, "hvp_s": t_hvp, "eigen_s": t_eig, "trace_s": t_trace,
                   "lambda_max": py_eig, "power_iterations": py_iters, "trace": py_trace, "trace_se": py_trace_se,
                   "hvp_over_train_step": t_hvp / t_step},
        "ratios": {"hvp_critlab_over_python_train_step": cl["hvp_s"] / t_step,
                   "eigen_python_over_critlab": t_eig / cl["eigen_s"],
                   "trace_python_over_critlab": t_trace / cl["trace_s"],
                   "hvp_python_over_critlab": t_hvp / cl["hvp_s"]},
        "agreement": {"lambda_max_rel_diff": abs(py_eig - j["hessian"]["eigenvalues"][0]) / abs(py_eig),
                      "trace_diff_in_se": abs(py_trace - j["hessian"]["trace"]) /
                      math.hypot(py_trace_se, j["hessian"]["trace_se"])},
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
