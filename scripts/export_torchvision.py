#!/usr/bin/env python3
"""Export torchvision's ImageNet classifiers as TorchScript files that critlab measures stage by stage.

Usage (Debian's python3-torch 1.13 and python3-torchvision 0.14; nothing is downloaded):

  python3 scripts/export_torchvision.py --out DIR [--models resnet18,vgg11] [--csv FILE] [--seed 0]
                                        [--input-size 64] [--weights-dir DIR]
  critlab measure --model DIR/resnet18.pt --input-shape 3,64,64 --probe-source gaussian

One file per distinct `builder` of the CSV (default: the repository's data/torchvision_imagenet.csv):
DIR/<builder>.pt, and DIR/manifest.json with one entry per builder of the CSV: its CSV facts (of its best
acc1 row), status ("exported", or "failed" with a one-line reason), the stage names, the method ("script",
or "trace" when scripting failed), the input size to measure it at, the equivalence check's max_abs_diff,
the parameter count and the weights used. A builder that --models leaves out keeps its entry from an
existing DIR/manifest.json (so runs over subsets add up), otherwise it is listed as "not-selected". DIR/survey.csv
lists the exported models as a manifest for `critlab survey` (with the published top-1 accuracy, the
architecture's year and two factors: batchnorm, from the modules, and residual, from the family).

Stage convention. Each file holds a top-level torch.nn.Sequential of the model's natural stages, saved in
eval mode. critlab starts a block at each top-level child that owns a parameter with two or more dimensions,
folds parameter-free children into the block before them and treats the last block as the readout. So every
stage here owns weights, and the last stage, the head, holds the global pooling, the flatten and the
classifier (pooling is never left to be folded into the last feature stage). For example a ResNet is

  Sequential(stem=Sequential(conv1, bn1, relu, maxpool), layer1, layer2, layer3, layer4,
             head=Sequential(avgpool, Flatten(1), fc))

Where a model's forward does more than chain its children (ViT's class token, Inception's transform_input,
DenseNet's final relu, the mean pooling of ShuffleNet and MNASNet, ...) a small wrapper module reproduces it.
Training-only parts (GoogLeNet's and Inception v3's auxiliary classifiers) are not exported: they do not take
part in the eval-mode forward. For every model the exported Sequential's output is checked against the
original model's (eval mode, a Gaussian input of 2 images) to 1e-5 relative to the output's largest
magnitude; a model that fails the check is not written. When the reference output is identically zero (a
randomly initialised ViT's head is zero) the check is repeated with the all-zero parameters temporarily
randomised, so that it compares something.

  family                        stages (then head)
  resnet, resnext, wide_resnet  stem, layer1..layer4
  vgg, alexnet, squeezenet      features cut after each MaxPool: stage1..stageN (each ends with its pool)
  densenet                      stem (conv0..pool0), denseblock1..4 (each with the transition after it; the
                                last with norm5)
  efficientnet                  stem, stage1..stageN (torchvision's features children), top (last 1x1 conv)
  mobilenet (v2, v3)            stem, stage1..N (consecutive blocks with the same output channels), top
  mnasnet                       stem (layers 0-7), stack1..stack6, top (1x1 conv, bn, relu)
  shufflenet                    stem (conv1, maxpool), stage2..stage4, conv5
  regnet                        stem, block1..block4
  convnext, swin                stem (patchify), stage1, stage2..4 (each with the downsampling before it)
  maxvit                        stem, block1..block4
  vit                           embed (patchify, class token, position embedding), encoder1..4 (layers in
                                four equal groups)
  googlenet                     stem (transform_input, conv1..maxpool2), inception3, inception4, inception5
  inception (v3)                stem (transform_input, Conv2d_1a..maxpool2), mixed5, mixed6, mixed7

A family missing from the table is exported as a single stage (one wrapper around the whole model; critlab
measures it as one block) and the manifest says so in `notes`.

Weights: random initialisation (torch.manual_seed(--seed) before each builder) unless --weights-dir DIR holds
DIR/<weights enum name>.pth (e.g. ResNet18_Weights.IMAGENET1K_V1.pth) for one of the builder's CSV rows (the
best acc1 first): then the builder is called with that weights enum and the state dict is read from the local
file instead of torchvision's URL (so the builder's own adjustments apply: GoogLeNet's transform_input, the
size of ViT's SWAG weights, DenseNet's renamed keys).

Input size: per model the smallest of 32, 64 and 224 at which the forward runs (`min_input_size`; ViT and
MaxViT need 224, Inception v3 at least 75); the equivalence check runs at --input-size when the model accepts
it, otherwise at that smallest size, and `input_size` records the size it ran at.

Output: files are written atomically (a temporary name in DIR, then os.replace). One progress line per model
on stderr when stderr is a terminal, otherwise only a final one-line summary on stderr. Exit status 0 when
every selected builder was exported, 1 when any failed, 2 on bad arguments (unknown model, unreadable CSV,
unwritable output directory).
"""
import argparse
import contextlib
import csv
import gc
import io
import json
import os
import sys
import tempfile
import time
import warnings
from collections import OrderedDict
from typing import List, Tuple

import torch
import torchvision
from torch import Tensor, nn

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_CSV = os.path.join(REPO, "data", "torchvision_imagenet.csv")
PROBE_SIZES = (32, 64, 224)
BATCH = 2
RTOL = 1e-5

Stages = List[Tuple[str, nn.Module]]


# ---------------------------------------------------------------------------------------------------------
# Wrappers: the parts of a forward that are not a child module.


class MeanHW(nn.Module):
    """x.mean([2, 3]): ShuffleNet's and MNASNet's global pooling."""

    def forward(self, x: Tensor) -> Tensor:
        return x.mean([2, 3])


class TransformInput(nn.Module):
    """GoogLeNet's and Inception v3's _transform_input (a no-op unless the model was built with it)."""

    def __init__(self, enabled: bool):
        super().__init__()
        self.enabled = enabled

    def forward(self, x: Tensor) -> Tensor:
        if self.enabled:
            x_ch0 = torch.unsqueeze(x[:, 0], 1) * (0.229 / 0.5) + (0.485 - 0.5) / 0.5
            x_ch1 = torch.unsqueeze(x[:, 1], 1) * (0.224 / 0.5) + (0.456 - 0.5) / 0.5
            x_ch2 = torch.unsqueeze(x[:, 2], 1) * (0.225 / 0.5) + (0.406 - 0.5) / 0.5
            x = torch.cat((x_ch0, x_ch1, x_ch2), 1)
        return x


class ViTEmbed(nn.Module):
    """ViT's _process_input, class token, position embedding and dropout (the start of Encoder.forward)."""

    def __init__(self, vit):
        super().__init__()
        self.image_size: int = vit.image_size
        self.patch_size: int = vit.patch_size
        self.hidden_dim: int = vit.hidden_dim
        self.conv_proj = vit.conv_proj
        self.class_token = vit.class_token
        self.pos_embedding = vit.encoder.pos_embedding
        self.dropout = vit.encoder.dropout

    def forward(self, x: Tensor) -> Tensor:
        n, c, h, w = x.shape
        p = self.patch_size
        torch._assert(h == self.image_size, "ViT: wrong image height")
        torch._assert(w == self.image_size, "ViT: wrong image width")
        x = self.conv_proj(x).reshape(n, self.hidden_dim, (h // p) * (w // p)).permute(0, 2, 1)
        x = torch.cat([self.class_token.expand(n, -1, -1), x], dim=1)
        return self.dropout(x + self.pos_embedding)


class ViTHead(nn.Module):
    """ViT's final layer norm, class-token readout and heads."""

    def __init__(self, vit):
        super().__init__()
        self.ln = vit.encoder.ln
        self.heads = vit.heads

    def forward(self, x: Tensor) -> Tensor:
        return self.heads(self.ln(x)[:, 0])


class Whole(nn.Module):
    """The whole model as one stage (families without a splitter)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


# ---------------------------------------------------------------------------------------------------------
# Splitters: model -> [(stage name, module)], the last being the head.


def seq(*mods):
    return nn.Sequential(*mods)


def pooled_head(model):
    return seq(model.avgpool, nn.Flatten(1), model.classifier)


def cut_at_pools(features, prefix="stage"):
    stages, cur = [], []
    for m in features.children():
        cur.append(m)
        if isinstance(m, nn.MaxPool2d):
            stages.append(cur)
            cur = []
    if cur:
        stages.append(cur)
    return [(f"{prefix}{i + 1}", seq(*s)) for i, s in enumerate(stages)]


def out_channels(m):
    if hasattr(m, "out_channels"):
        return m.out_channels
    return [c for c in m.modules() if isinstance(c, nn.Conv2d)][-1].out_channels


def group_by_channels(blocks):
    groups = []
    for b in blocks:
        if groups and out_channels(groups[-1][-1]) == out_channels(b):
            groups[-1].append(b)
        else:
            groups.append([b])
    return [(f"stage{i + 1}", seq(*g)) for i, g in enumerate(groups)]


def split_resnet(m):
    stem = seq(m.conv1, m.bn1, m.relu, m.maxpool)
    layers = [(f"layer{i}", getattr(m, f"layer{i}")) for i in range(1, 5)]
    return [("stem", stem)] + layers + [("head", seq(m.avgpool, nn.Flatten(1), m.fc))]


def split_vgg(m):  # VGG and AlexNet
    return cut_at_pools(m.features) + [("head", pooled_head(m))]


def split_squeezenet(m):
    return cut_at_pools(m.features) + [("head", seq(*m.classifier.children(), nn.Flatten(1)))]


def split_densenet(m):
    groups = []
    for name, c in m.features.named_children():
        if name == "conv0" or name.startswith("denseblock"):
            groups.append(("stem" if name == "conv0" else name, []))
        groups[-1][1].append(c)
    head = seq(nn.ReLU(), nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1), m.classifier)
    return [(n, seq(*g)) for n, g in groups] + [("head", head)]


def split_efficientnet(m):
    f = list(m.features.children())
    mid = [(f"stage{i + 1}", s) for i, s in enumerate(f[1:-1])]
    return [("stem", f[0])] + mid + [("top", f[-1]), ("head", pooled_head(m))]


def split_mobilenet(m):  # v2 (functional pooling) and v3 (self.avgpool): the same computation
    f = list(m.features.children())
    head = seq(nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(1), m.classifier)
    return [("stem", f[0])] + group_by_channels(f[1:-1]) + [("top", f[-1]), ("head", head)]


def split_mnasnet(m):
    f = list(m.layers.children())
    stacks = [(f"stack{i + 1}", s) for i, s in enumerate(f[8:-3])]
    return [("stem", seq(*f[:8]))] + stacks + [("top", seq(*f[-3:])), ("head", seq(MeanHW(), m.classifier))]


def split_shufflenet(m):
    stages = [(n, getattr(m, n)) for n in ("stage2", "stage3", "stage4", "conv5")]
    return [("stem", seq(m.conv1, m.maxpool))] + stages + [("head", seq(MeanHW(), m.fc))]


def split_regnet(m):
    blocks = list(m.trunk_output.named_children())
    return [("stem", m.stem)] + blocks + [("head", seq(m.avgpool, nn.Flatten(1), m.fc))]


def patchify_stages(features):  # ConvNeXt and Swin: stem, stage, (downsample, stage) x 3
    f = list(features.children())
    rest = [(f"stage{i // 2 + 1}", seq(f[i], f[i + 1])) for i in range(2, len(f), 2)]
    return [("stem", f[0]), ("stage1", f[1])] + rest


def split_convnext(m):
    return patchify_stages(m.features) + [("head", seq(m.avgpool, m.classifier))]


def split_swin(m):
    return patchify_stages(m.features) + [("head", seq(m.norm, m.permute, m.avgpool, m.flatten, m.head))]


def split_maxvit(m):
    blocks = [(f"block{i + 1}", b) for i, b in enumerate(m.blocks)]
    return [("stem", m.stem)] + blocks + [("head", m.classifier)]


def split_vit(m, groups=4):
    layers = list(m.encoder.layers.children())
    k = -(-len(layers) // groups)
    enc = [(f"encoder{i // k + 1}", seq(*layers[i : i + k])) for i in range(0, len(layers), k)]
    return [("embed", ViTEmbed(m))] + enc + [("head", ViTHead(m))]


def split_googlenet(m):
    stem = seq(TransformInput(m.transform_input), m.conv1, m.maxpool1, m.conv2, m.conv3, m.maxpool2)
    i3 = seq(m.inception3a, m.inception3b, m.maxpool3)
    i4 = seq(m.inception4a, m.inception4b, m.inception4c, m.inception4d, m.inception4e, m.maxpool4)
    i5 = seq(m.inception5a, m.inception5b)
    head = seq(m.avgpool, nn.Flatten(1), m.dropout, m.fc)
    return [("stem", stem), ("inception3", i3), ("inception4", i4), ("inception5", i5), ("head", head)]


def split_inception(m):
    stem = seq(TransformInput(m.transform_input), m.Conv2d_1a_3x3, m.Conv2d_2a_3x3, m.Conv2d_2b_3x3,
               m.maxpool1, m.Conv2d_3b_1x1, m.Conv2d_4a_3x3, m.maxpool2)
    mixed = [(f"mixed{k}", seq(*[getattr(m, f"Mixed_{k}{s}") for s in sub]))
             for k, sub in (("5", "bcd"), ("6", "abcde"), ("7", "abc"))]
    return [("stem", stem)] + mixed + [("head", seq(m.avgpool, m.dropout, nn.Flatten(1), m.fc))]


def split_whole(m):
    return [("model", Whole(m))]


SPLITTERS = {
    "resnet": split_resnet,
    "resnext": split_resnet,
    "wide_resnet": split_resnet,
    "vgg": split_vgg,
    "alexnet": split_vgg,
    "squeezenet": split_squeezenet,
    "densenet": split_densenet,
    "efficientnet": split_efficientnet,
    "mobilenet": split_mobilenet,
    "mnasnet": split_mnasnet,
    "shufflenet": split_shufflenet,
    "regnet": split_regnet,
    "convnext": split_convnext,
    "swin": split_swin,
    "maxvit": split_maxvit,
    "vit": split_vit,
    "googlenet": split_googlenet,
    "inception": split_inception,
}


# ---------------------------------------------------------------------------------------------------------
# Export.


class ArgError(Exception):
    pass


def one_line(e):
    text = str(e).strip().splitlines()
    return f"{type(e).__name__}: {text[0] if text else ''}".strip().rstrip(":")


def owns_weight_matrix(m):
    return any(p.dim() >= 2 for p in m.parameters())


def load_state_dict_file(path):
    sd = torch.load(path, map_location="cpu")
    for key in ("state_dict", "model"):
        if isinstance(sd, dict) and set(sd) <= {key, "epoch", "optimizer", "args"} and key in sd:
            sd = sd[key]
    return sd


@contextlib.contextmanager
def local_weights(path):
    """Makes every torchvision weights enum read `path` instead of downloading its URL."""
    from torchvision.models._api import WeightsEnum

    original = WeightsEnum.get_state_dict
    WeightsEnum.get_state_dict = lambda self, *args, **kwargs: load_state_dict_file(path)
    try:
        yield
    finally:
        WeightsEnum.get_state_dict = original


def build(builder, rows, seed, weights_dir):
    """The eval-mode model and the weights it holds ("random" or the file)."""
    fn = getattr(torchvision.models, builder, None)
    if fn is None or not callable(fn):
        raise RuntimeError(f"torchvision {torchvision.__version__} has no builder {builder}")
    torch.manual_seed(seed)
    if weights_dir:
        for row in sorted(rows, key=lambda r: -float(r["acc1"] or "nan")):
            path = os.path.join(weights_dir, row["weights"] + ".pth")
            if os.path.isfile(path):
                with local_weights(path):
                    model = fn(weights=torchvision.models.get_weight(row["weights"]))
                return model.eval(), path
    return fn(weights=None).eval(), "random"


def forward_ok(model, size, device="cpu"):
    try:
        with torch.no_grad():
            out = model(torch.zeros(1, 3, size, size, device=device))
        return isinstance(out, Tensor)
    except Exception:
        return False


def sizes_for(model, requested):
    candidates = list(PROBE_SIZES)
    own = getattr(model, "image_size", None)  # ViT's (SWAG weights: 384, 518)
    if isinstance(own, int) and own not in candidates:
        candidates.append(own)
    smallest = next((s for s in candidates if forward_ok(model, s)), None)
    if smallest is None:
        raise RuntimeError(f"the model's forward fails at every input size tried ({candidates})")
    check = requested if requested == smallest or forward_ok(model, requested) else smallest
    return smallest, check


def compare(model, exported, x):
    with torch.no_grad():
        ref = model(x)
        out = exported(x)
    if out.shape != ref.shape:
        raise RuntimeError(f"the export's output has shape {tuple(out.shape)}, the model's {tuple(ref.shape)}")
    diff = (out - ref).abs().max().item()
    scale = ref.abs().max().item()
    if not (diff <= RTOL * scale) and not (diff == 0.0):
        raise RuntimeError(f"equivalence check failed: max_abs_diff {diff:.3g} vs output scale {scale:.3g}")
    return diff, scale


@contextlib.contextmanager
def zero_params_randomised(model, seed):
    """Temporarily fills every all-zero parameter with N(0, 0.02^2) (shared with the scripted module)."""
    g = torch.Generator().manual_seed(seed + 1)
    saved = []
    with torch.no_grad():
        for p in model.parameters():
            if p.is_floating_point() and p.numel() and not p.any():
                saved.append(p)
                p.copy_(torch.randn(p.shape, generator=g) * 0.02)
    try:
        yield len(saved)
    finally:
        with torch.no_grad():
            for p in saved:
                p.zero_()


def save_atomic(write, path):
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp",
                               dir=os.path.dirname(path))
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


CALIBRATION_BATCH = 16


def calibrate_batch_norm(model, batches, size, seed):
    """Sets every batch norm's running statistics to the cumulative mean and variance over `batches` batches of
    N(0, 1) images, in train mode, weights untouched; returns the number of batch norms. At random
    initialisation the running statistics are (0, 1), so in eval mode batch norm normalises nothing and the
    network is a different map from the one training would see; recalibrated, eval mode normalises as train
    mode does on such inputs."""
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    saved = [(m, m.momentum) for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # cumulative moving average: every batch weighs the same
    g = torch.Generator().manual_seed(seed + 1)
    for m in model.modules():  # only batch norms in train mode: no dropout, no stochastic depth
        m.train(isinstance(m, nn.modules.batchnorm._BatchNorm))
    with torch.no_grad():
        for _ in range(batches):
            model(torch.randn(CALIBRATION_BATCH, 3, size, size, generator=g))
    model.eval()
    for m, momentum in saved:
        m.momentum = momentum
    return len(norms)


# Families whose blocks add a skip path to their output (residual or dense connections): the `residual` factor of
# the survey manifest. AlexNet, VGG, SqueezeNet (torchvision's has no bypass), GoogLeNet and Inception have none.
RESIDUAL_FAMILIES = {"resnet", "resnext", "wide_resnet", "densenet", "efficientnet", "mobilenet", "mnasnet",
                     "regnet", "shufflenet", "vit", "swin", "convnext", "maxvit"}


def write_survey_manifest(manifest, path):
    """DIR/survey.csv: the exported models as a `critlab survey --manifest` (model, name, family, year, accuracy,
    input_shape, and the factors batchnorm and residual)."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["model", "name", "family", "year", "accuracy", "input_shape", "params_millions", "weights",
                "batchnorm", "residual"])
    for e in manifest:
        if e.get("status") != "exported":
            continue
        size = e["input_size"]
        w.writerow([e["file"], e["builder"], e["family"], e["arch_year"], e["acc1"], f"3,{size},{size}",
                    e["params_millions"], e["weights"], "yes" if e.get("batchnorm") else "no",
                    "yes" if e["family"] in RESIDUAL_FAMILIES else "no"])
    text = out.getvalue()

    def write(p):
        with open(p, "w") as f:
            f.write(text)

    save_atomic(write, path)


def export_one(builder, family, rows, args):
    entry = {"method": None, "input_size": None, "min_input_size": None, "max_abs_diff": None,
             "params": None, "weights": None, "stages": [], "stage_count": 0, "notes": []}
    model, weights = build(builder, rows, args.seed, args.weights_dir)
    entry["weights"] = weights
    entry["batchnorm"] = any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    smallest, size = sizes_for(model, args.input_size)
    entry["min_input_size"], entry["input_size"] = smallest, size
    if args.calibrate_bn:
        n = calibrate_batch_norm(model, args.calibrate_bn, size, args.seed)
        entry["notes"].append(f"batch-norm running statistics of {n} layers recalibrated on {args.calibrate_bn} "
                              f"batches of {CALIBRATION_BATCH} Gaussian {size}x{size} images")

    splitter = SPLITTERS.get(family, split_whole)
    if splitter is split_whole:
        entry["notes"].append(f"no splitter for family {family}: exported as a single stage")
    if family in ("googlenet", "inception"):
        entry["notes"].append("auxiliary classifiers (training only) are not exported")
    stages = splitter(model)
    for name, stage in stages:
        if not owns_weight_matrix(stage):
            raise RuntimeError(f"stage {name} owns no weight matrix (splitter bug)")
    seq_model = nn.Sequential(OrderedDict(stages)).eval()

    try:
        exported = torch.jit.script(seq_model)
        entry["method"] = "script"
    except Exception as e:
        example = torch.randn(BATCH, 3, size, size)
        exported = torch.jit.trace(seq_model, example, check_trace=False)
        entry["method"] = "trace"
        entry["notes"].append(f"scripting failed ({one_line(e)}); traced at {size}x{size}")
    exported.eval()

    g = torch.Generator().manual_seed(args.seed)
    x = torch.randn(BATCH, 3, size, size, generator=g)
    diff, scale = compare(model, exported, x)
    if scale == 0.0:
        with zero_params_randomised(model, args.seed) as n:
            diff, scale = compare(model, exported, x)
        entry["notes"].append(f"reference output identically zero: checked with its {n} all-zero "
                              "parameters temporarily randomised")
        if scale == 0.0:
            raise RuntimeError("equivalence check vacuous: the output is identically zero")
    entry["max_abs_diff"] = diff

    path = os.path.join(args.out, f"{builder}.pt")
    save_atomic(lambda p: torch.jit.save(exported, p), path)
    with torch.no_grad():  # the file, read back, computes the same
        loaded = torch.jit.load(path, map_location="cpu")
        back = (loaded(x) - exported(x)).abs().max().item()
        if back > RTOL * max(scale, 1e-30):
            raise RuntimeError(f"the saved file computes differently when read back ({back:.3g})")
    entry.update(status="exported", reason=None, file=os.path.basename(path),
                 stages=[n for n, _ in stages], stage_count=len(stages),
                 params=sum(p.numel() for p in seq_model.parameters()))
    return entry


# ---------------------------------------------------------------------------------------------------------
# Command line.


class Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ArgError(message)


def parse_args(argv):
    p = Parser(description="Export torchvision classifiers as TorchScript Sequentials of stages for critlab.")
    p.add_argument("--out", required=True, help="output directory (created if missing)")
    p.add_argument("--csv", default=DEFAULT_CSV, help="model list (default: %(default)s)")
    p.add_argument("--models", help="comma-separated builders (default: every builder in the CSV)")
    p.add_argument("--seed", type=int, default=0, help="torch.manual_seed before each builder (default 0)")
    p.add_argument("--input-size", type=int, default=64, help="equivalence-check input size (default 64)")
    p.add_argument("--weights-dir", help="directory of <WeightsEnum name>.pth state dicts to load")
    p.add_argument("--calibrate-bn", type=int, default=0, metavar="BATCHES",
                   help="recalibrate batch-norm running statistics on this many batches of Gaussian images "
                        "before export (default 0: keep them; at random initialisation they are 0 and 1)")
    args = p.parse_args(argv)
    if args.input_size < 1:
        raise ArgError(f"--input-size must be positive, not {args.input_size}")
    if args.calibrate_bn < 0:
        raise ArgError(f"--calibrate-bn must be 0 or more, not {args.calibrate_bn}")
    if args.weights_dir and not os.path.isdir(args.weights_dir):
        raise ArgError(f"--weights-dir {args.weights_dir}: not a directory")
    return args


def read_csv(path):
    try:
        with open(path, newline="") as f:
            rows = list(csv.DictReader(f))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise ArgError(f"cannot read the CSV {path}: {one_line(e)}")
    need = {"weights", "builder", "family", "arch_year", "acc1", "acc5", "params_millions"}
    if not rows or not need <= set(rows[0]):
        raise ArgError(f"{path}: not a model list (needs the columns {', '.join(sorted(need))})")
    builders = OrderedDict()
    for r in rows:
        builders.setdefault(r["builder"], []).append(r)
    return builders


def check_out_dir(out):
    try:
        os.makedirs(out, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-test.", dir=out)
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise ArgError(f"output directory {out} is not writable: {one_line(e)}")


def num(s, kind=float):
    try:
        return kind(s)
    except (TypeError, ValueError):
        return None


def main(argv):
    try:
        args = parse_args(argv)
        builders = read_csv(args.csv)
        selected = list(builders)
        if args.models:
            selected = [m.strip() for m in args.models.split(",") if m.strip()]
            unknown = [m for m in selected if m not in builders]
            if unknown or not selected:
                names = ", ".join(unknown) or "(none given)"
                raise ArgError(f"unknown model(s) {names}: not builders in {args.csv}")
        check_out_dir(args.out)
    except ArgError as e:
        print(f"export_torchvision.py: error: {e}", file=sys.stderr)
        return 2

    torch.set_num_threads(1)
    warnings.simplefilter("ignore")  # torchvision's init-scheme FutureWarnings; failures are in the manifest
    tty = sys.stderr.isatty()
    path = os.path.join(args.out, "manifest.json")
    previous = {}
    with contextlib.suppress(OSError, ValueError, TypeError, KeyError):
        with open(path) as f:
            previous = {e["builder"]: e for e in json.load(f) if e.get("status") in ("exported", "failed")}
    manifest = []
    start = time.time()
    for builder, rows in builders.items():
        best = max(rows, key=lambda r: num(r["acc1"]) or float("-inf"))
        entry = OrderedDict(builder=builder, family=best["family"], arch_year=num(best["arch_year"], int),
                            acc1=num(best["acc1"]), acc5=num(best["acc5"]),
                            params_millions=num(best["params_millions"]), status="not-selected", reason=None,
                            file=None, stages=[], stage_count=0, method=None, input_size=None,
                            max_abs_diff=None, params=None, weights=None)
        manifest.append(entry)
        if builder not in selected:
            if builder in previous:
                entry.update(previous[builder])
            continue
        t0 = time.time()
        try:
            entry.update(export_one(builder, best["family"], rows, args))
        except Exception as e:
            entry.update(status="failed", reason=one_line(e), file=None, stages=[], stage_count=0)
        entry["seconds"] = round(time.time() - t0, 2)
        gc.collect()
        if tty:
            done = sum(e["status"] != "not-selected" for e in manifest)
            what = (f"{entry['stage_count']} stages ({entry['method']}) at {entry['input_size']}, "
                    f"max_abs_diff {entry['max_abs_diff']:.2g}" if entry["status"] == "exported"
                    else entry["reason"])
            print(f"[{done}/{len(selected)}] {builder}: {entry['status']}: {what} ({entry['seconds']:.1f} s)",
                  file=sys.stderr, flush=True)

    text = json.dumps(manifest, indent=1) + "\n"

    def write(p):
        with open(p, "w") as f:
            f.write(text)

    save_atomic(write, path)
    write_survey_manifest(manifest, os.path.join(args.out, "survey.csv"))
    ran = [e for e in manifest if e["builder"] in selected]
    ok = sum(e["status"] == "exported" for e in ran)
    failed = [e["builder"] for e in ran if e["status"] == "failed"]
    print(f"export_torchvision.py: {ok} exported, {len(failed)} failed"
          + (f" ({', '.join(failed)})" if failed else "")
          + f" of {len(selected)} in {time.time() - start:.0f} s; {path}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
