"""Rebuilds a critlab network in PyTorch and saves it as TorchScript (must-show 1 of the import issue).

Usage: python3 export_critlab.py DIR

DIR/blocks.json lists critlab's blocks, input to output: {"describe": block.describe(), "tensors": [names]},
and DIR/b<i>.<name>.npy holds block i's parameters and buffers. Each block becomes one stage of a top-level
nn.Sequential (critlab's import convention: one stage per block), written to DIR/model.pt. The stages
transcribe critlab's blocks (src/nn/blocks.cpp):
  dense a->b act [batchnorm|layernorm] [residual]   h = act(norm(W flatten(x) + b)) [+ flatten(x)]
  dense a->b readout                                 z = W flatten(x) + b
  conv3x3 a->b act [batchnorm] [maxpool2]           h = [maxpool2](act([bn](conv3x3 pad 1 (x))))
  residual a->b stride s act [batchnorm]            h = act(bn2(conv2(act(bn1(conv1(x))))) + shortcut(x))
  avgpool + dense c->k [readout]                    z = W mean_hw(x) + b
"""
import json
import os
import re
import sys

import numpy
import torch
from torch import nn

ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU, "gelu": nn.GELU, "silu": nn.SiLU, "linear": nn.Identity}


class Dense(nn.Module):
    def __init__(self, n_in, n_out, act, norm, residual):
        super().__init__()
        self.linear = nn.Linear(n_in, n_out)
        self.bn = nn.BatchNorm1d(n_out) if norm == "batchnorm" else nn.Identity()
        self.ln = nn.LayerNorm(n_out) if norm == "layernorm" else nn.Identity()
        self.act = ACTIVATIONS[act]()
        self.residual = residual and n_in == n_out

    def forward(self, x):
        x = torch.flatten(x, 1)
        h = self.act(self.ln(self.bn(self.linear(x))))
        return h + x if self.residual else h


class Conv(nn.Module):
    def __init__(self, c_in, c_out, act, bn, pool):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.bn = nn.BatchNorm2d(c_out) if bn else nn.Identity()
        self.act = ACTIVATIONS[act]()
        self.pool = nn.MaxPool2d(2) if pool else nn.Identity()

    def forward(self, x):
        return self.pool(self.act(self.bn(self.conv(x))))


class Residual(nn.Module):
    def __init__(self, c_in, c_out, stride, act, bn):
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=not bn)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=not bn)
        self.bn1 = nn.BatchNorm2d(c_out) if bn else nn.Identity()
        self.bn2 = nn.BatchNorm2d(c_out) if bn else nn.Identity()
        self.has_shortcut = stride != 1 or c_in != c_out
        self.shortcut = nn.Conv2d(c_in, c_out, 1, stride=stride, bias=not bn) if self.has_shortcut else nn.Identity()
        self.bn_short = nn.BatchNorm2d(c_out) if bn and self.has_shortcut else nn.Identity()
        self.act = ACTIVATIONS[act]()

    def forward(self, x):
        h = self.bn2(self.conv2(self.act(self.bn1(self.conv1(x)))))
        return self.act(h + self.bn_short(self.shortcut(x)))


class PoolLinear(nn.Module):
    def __init__(self, channels, n_out):
        super().__init__()
        self.linear = nn.Linear(channels, n_out)

    def forward(self, x):
        return self.linear(x.mean(dim=(2, 3)))


def stage(describe):
    words = describe.split()
    if describe.startswith("avgpool + dense"):
        c, k = map(int, words[3].split("->"))
        return PoolLinear(c, k)
    a, b = map(int, words[1].split("->"))
    if words[0] == "dense":
        act = "linear" if words[2] == "readout" else words[2]
        norm = next((w for w in words[3:] if w in ("batchnorm", "layernorm")), None)
        return Dense(a, b, act, norm, "residual" in words)
    if words[0] == "conv3x3":
        return Conv(a, b, words[2], "batchnorm" in words, "maxpool2" in words)
    if words[0] == "residual":
        return Residual(a, b, int(words[3]), words[4], "batchnorm" in words)
    raise SystemExit(f"export_critlab: unknown block '{describe}'")


def main():
    if len(sys.argv) != 2:
        raise SystemExit("usage: export_critlab.py DIR")
    d = sys.argv[1]
    with open(os.path.join(d, "blocks.json")) as f:
        blocks = json.load(f)
    stages = []
    for i, b in enumerate(blocks):
        s = stage(b["describe"])
        state = {name: torch.from_numpy(numpy.load(os.path.join(d, f"b{i}.{name}.npy"))) for name in b["tensors"]}
        missing, unexpected = s.load_state_dict(state, strict=False)
        missing = [m for m in missing if not m.endswith("num_batches_tracked")]
        if missing or unexpected:
            raise SystemExit(f"export_critlab: block {i} ({b['describe']}): missing {missing}, unexpected {unexpected}")
        stages.append(s)
    model = nn.Sequential(*stages).eval()
    scripted = torch.jit.script(model)
    tmp = os.path.join(d, "model.pt.tmp")
    torch.jit.save(scripted, tmp)
    os.replace(tmp, os.path.join(d, "model.pt"))


if __name__ == "__main__":
    main()
