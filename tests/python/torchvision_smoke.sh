#!/bin/sh
# One torchvision architecture through the whole path: scripts/export_torchvision.py writes ResNet-18 as six
# stages, critlab measures it stage by stage and reads its weight spectra, and the exporter's survey.csv runs
# through `critlab survey` (one model: every test a status). Usage: torchvision_smoke.sh PYTHON
# CRITLAB REPO WORKDIR
set -eu
python=$1 critlab=$2 repo=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
"$python" "$repo/scripts/export_torchvision.py" --models resnet18 --out "$work/tv"
"$critlab" measure --model "$work/tv/resnet18.pt" --input-shape 3,64,64 --probe-source gaussian --probes 8 \
  --lyapunov-k 2 --no-dynamic-range --json > "$work/measure.json"
"$critlab" spectra --model "$work/tv/resnet18.pt" --json > "$work/spectra.json"
"$critlab" survey --manifest "$work/tv/survey.csv" --out "$work/survey" --probes 4 --lyapunov-k 1 \
  --no-dynamic-range --factor batchnorm --json > "$work/survey.json"
"$python" - "$work" <<'PY'
import csv, json, sys
m = json.load(open(sys.argv[1] + "/measure.json"))
s = json.load(open(sys.argv[1] + "/spectra.json"))
blocks = m["import"]["blocks"]
assert [b.split(":")[0] for b in blocks] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"], blocks
assert all(l["gain_sq"] > 0 for l in m["layers"]), m["layers"]
assert len(s["layers"]) == 21, len(s["layers"])  # 20 convolutions and the classifier
assert s["layers"][0]["name"] == "block0.stem.0.weight", s["layers"][0]["name"]
assert s["layers"][0]["matrices"] == 49  # a 7x7 kernel
v = json.load(open(sys.argv[1] + "/survey.json"))
assert v["survey"]["measured"] == 1 and v["survey"]["failed"] == 0, v["survey"]
row = next(csv.DictReader(open(sys.argv[1] + "/survey/models.csv")))
assert (row["name"], row["year"], row["accuracy"], row["input_shape"], row["batchnorm"], row["status"]) == \
    ("resnet18", "2015", "69.758", "3,64,64", "yes", "measured"), row
assert float(row["d"]) > 0 and row["lambda0_status"] == "ok", row
assert v["analysis"]["spearman"][0]["rho"] is None and v["analysis"]["status"] == "insufficient-data", v["analysis"]
print("torchvision_smoke: resnet18 exported as", len(blocks), "stages, measured, 21 weight spectra")
PY
