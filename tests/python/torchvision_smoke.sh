#!/bin/sh
# One torchvision architecture through the whole path: scripts/export_torchvision.py writes ResNet-18 as six
# stages, critlab measures it stage by stage and reads its weight spectra. Usage: torchvision_smoke.sh PYTHON
# CRITLAB REPO WORKDIR
set -eu
python=$1 critlab=$2 repo=$3 work=$4
rm -rf "$work" && mkdir -p "$work"
"$python" "$repo/scripts/export_torchvision.py" --models resnet18 --out "$work/tv"
"$critlab" measure --model "$work/tv/resnet18.pt" --input-shape 3,64,64 --probe-source gaussian --probes 8 \
  --lyapunov-k 2 --no-dynamic-range --json > "$work/measure.json"
"$critlab" spectra --model "$work/tv/resnet18.pt" --json > "$work/spectra.json"
"$python" - "$work" <<'PY'
import json, sys
m = json.load(open(sys.argv[1] + "/measure.json"))
s = json.load(open(sys.argv[1] + "/spectra.json"))
blocks = m["import"]["blocks"]
assert [b.split(":")[0] for b in blocks] == ["stem", "layer1", "layer2", "layer3", "layer4", "head"], blocks
assert all(l["gain_sq"] > 0 for l in m["layers"]), m["layers"]
assert len(s["layers"]) == 21, len(s["layers"])  # 20 convolutions and the classifier
assert s["layers"][0]["name"] == "block0.stem.0.weight", s["layers"][0]["name"]
assert s["layers"][0]["matrices"] == 49  # a 7x7 kernel
print("torchvision_smoke: resnet18 exported as", len(blocks), "stages, measured, 21 weight spectra")
PY
