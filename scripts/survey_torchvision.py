#!/usr/bin/env python3
"""Measures every network that scripts/export_torchvision.py exported, with critlab's command line, and tabulates
the results (the torchvision survey of the TorchScript-import issue).

Usage: python3 scripts/survey_torchvision.py --models DIR --out DIR [--size 64] [--probes 16] [--lyapunov-k 4]
                                             [--critlab build/critlab] [--only a,b] [--timeout 1800]
                                             [--no-dynamic-range]

For each exported model (DIR/manifest.json): `critlab measure --model M.pt --input-shape 3,S,S --probe-source
gaussian --no-spectra --json` (S = --size, or the smallest size the model accepts when larger, e.g. 224 for ViT) and
`critlab spectra --model M.pt --json`, each saved as OUT/<builder>.measure.json / .spectra.json. A model whose
JSON is already there is not measured again (the survey resumes where it stopped); a failed model keeps its
one-line error in OUT/<builder>.error.txt and the survey goes on. At the end OUT/survey.csv and OUT/survey.md
hold one row per model: stages, gain^2 per stage, distance to criticality d, lambda_1, dynamic range, branching
sigma, mean WeightWatcher alpha, and the wall time of each command. Progress goes to stderr on a terminal.
"""
import argparse
import csv
import io
import json
import math
import os
import subprocess
import sys
import time


def atomic_write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


def run(cmd, timeout):
    start = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return None, f"timed out after {timeout} s", time.monotonic() - start
    seconds = time.monotonic() - start
    if r.returncode != 0:
        return None, (r.stderr.strip().splitlines() or ["exit %d" % r.returncode])[-1], seconds
    return json.loads(r.stdout), None, seconds


def fmt(v, spec=".3f"):
    return "" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, spec)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--size", type=int, default=64)
    ap.add_argument("--probes", type=int, default=16)
    ap.add_argument("--lyapunov-k", type=int, default=4)
    ap.add_argument("--critlab", default=os.path.join(os.path.dirname(__file__), "..", "build", "critlab"))
    ap.add_argument("--only", default="")
    ap.add_argument("--timeout", type=int, default=1800)
    ap.add_argument("--no-dynamic-range", action="store_true",
                    help="skip the dynamic range (121 stimuli per probe in double precision: most of the time)")
    args = ap.parse_args()
    try:
        with open(os.path.join(args.models, "manifest.json")) as f:
            manifest = json.load(f)
        os.makedirs(args.out, exist_ok=True)
    except (OSError, ValueError) as e:
        sys.exit(f"survey_torchvision: {e}")
    entries = manifest if isinstance(manifest, list) else manifest.get("models", [])
    only = set(filter(None, args.only.split(",")))
    tty = sys.stderr.isatty()
    rows = []
    for i, e in enumerate(entries):
        name = e["builder"]
        if only and name not in only:
            continue
        row = {"builder": name, "family": e.get("family"), "arch_year": e.get("arch_year"), "acc1": e.get("acc1"),
               "status": e.get("status"), "error": e.get("reason")}
        rows.append(row)
        if e.get("status") != "exported":
            continue
        size = max(args.size, int(e.get("input_size") or args.size))
        row["input_size"] = size
        model = os.path.join(args.models, e.get("file") or name + ".pt")
        for what, cmd in (
                ("measure", [args.critlab, "measure", "--model", model, "--input-shape", f"3,{size},{size}",
                             "--probe-source", "gaussian", "--probes", str(args.probes), "--lyapunov-k",
                             str(args.lyapunov_k), "--no-spectra", "--json"]
                 + (["--no-dynamic-range"] if args.no_dynamic_range else [])),
                ("spectra", [args.critlab, "spectra", "--model", model, "--json"])):
            path = os.path.join(args.out, f"{name}.{what}.json")
            if os.path.exists(path):
                with open(path) as f:
                    result = json.load(f)
            else:
                if tty:
                    print(f"[{i + 1}/{len(entries)}] {name}: {what} at {size}x{size} ...", file=sys.stderr, flush=True)
                result, err, seconds = run(cmd, args.timeout)
                if result is None:
                    row["status"] = f"{what} failed"
                    row["error"] = err
                    atomic_write(os.path.join(args.out, f"{name}.error.txt"), err + "\n")
                    break
                result["wall_seconds"] = seconds
                atomic_write(path, json.dumps(result))
            row[what] = result
        if "measure" in row and "spectra" in row:
            row["status"] = "measured"
    table = []
    for r in rows:
        m, s = r.get("measure"), r.get("spectra")
        t = {"builder": r["builder"], "family": r["family"], "year": r["arch_year"], "acc1": r["acc1"],
             "status": r["status"], "input": r.get("input_size"), "error": r.get("error") or ""}
        if m:
            t["stages"] = len(m["layers"])
            t["gain_sq"] = " ".join(fmt(l["gain_sq"], ".3g") for l in m["layers"])
            t["d"] = m["distance_to_criticality"]
            t["lambda1"] = (m.get("lyapunov") or [None])[0]
            dr = m.get("dynamic_range") or {}
            t["delta_db"] = dr.get("delta_db")
            t["delta_status"] = dr.get("status")
            br = m.get("branching") or {}
            t["sigma"] = br.get("sigma")
            t["t_measure_s"] = m.get("wall_seconds")
        if s:
            t["mean_alpha"] = s["summary"].get("mean_alpha")
            t["fitted"] = f"{s['summary']['fitted']}/{s['summary']['layers']}"
            t["t_spectra_s"] = s.get("wall_seconds")
        table.append(t)
    cols = ["builder", "family", "year", "acc1", "status", "input", "stages", "d", "lambda1", "delta_db",
            "delta_status", "sigma", "mean_alpha", "fitted", "t_measure_s", "t_spectra_s", "gain_sq", "error"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    for t in table:
        w.writerow({k: (fmt(v, ".6g") if isinstance(v, float) else ("" if v is None else v)) for k, v in t.items()})
    atomic_write(os.path.join(args.out, "survey.csv"), buf.getvalue())
    md = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for t in table:
        md.append("| " + " | ".join(fmt(t.get(c)) if isinstance(t.get(c), float) else str(t.get(c) if t.get(c) is not None else "")
                                    for c in cols) + " |")
    atomic_write(os.path.join(args.out, "survey.md"), "\n".join(md) + "\n")
    measured = sum(1 for t in table if t["status"] == "measured")
    print(f"survey_torchvision: {measured} of {len(table)} models measured; {args.out}/survey.md", file=sys.stderr)


if __name__ == "__main__":
    main()
