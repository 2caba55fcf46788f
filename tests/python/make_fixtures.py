"""TorchScript fixtures for critlab's import tests, saved by Debian's python3-torch (1.13).

Usage: python3 make_fixtures.py OUT_DIR

Writes, atomically (each file to a temporary name, then renamed):
  tanh_20x512.pt      flat nn.Sequential (Linear(512, 512), Tanh) x 20 + Linear(512, 10); weights N(0, 1.5^2/512),
                      biases N(0, 0.1^2): the random tanh MLP of mean-field theory at sigma_w = 1.5, sigma_b = 0.1
  conv_bn.pt, conv_bn_x.npy, conv_bn_y.npy
                      flat nn.Sequential Conv2d, BatchNorm2d, ReLU, Conv2d, ReLU, Flatten, Linear for 1x8x8 inputs
                      (its batch norm has non-trivial running statistics, so eval mode matters), with five
                      inputs and the outputs PyTorch computes in eval mode
  second_sequential.pt  the second nn.Sequential scripted in this process: TorchScript names its class
                      __torch__.torch.nn.modules.container.___torch_mangle_N.Sequential
  plain_module.pt     a scripted module that is not a Sequential (measured as one block)
  no_weights.pt       nn.Sequential(Tanh()): no parameters at all
  norm_only.pt        nn.Sequential(BatchNorm1d(4)): parameters, but no weight matrix
  state_dict.pt       torch.save of a state dict: a zip, but not TorchScript
  truncated.pt        the first half of tanh_20x512.pt
  not_torchscript.pt  a text file
"""
import os
import sys

import numpy
import torch
from torch import nn


def save_atomic(write, path):
    tmp = path + ".tmp"
    write(tmp)
    os.replace(tmp, path)


def script_save(module, path):
    module.eval()
    save_atomic(lambda p: torch.jit.save(torch.jit.script(module), p), path)


def tanh_mlp(width=512, depth=20, sigma_w=1.5, sigma_b=0.1, classes=10):
    layers = []
    for _ in range(depth):
        lin = nn.Linear(width, width)
        with torch.no_grad():
            lin.weight.normal_(0.0, sigma_w / width**0.5)
            lin.bias.normal_(0.0, sigma_b)
        layers += [lin, nn.Tanh()]
    head = nn.Linear(width, classes)
    with torch.no_grad():
        head.weight.normal_(0.0, 1.0 / width**0.5)
        head.bias.zero_()
    return nn.Sequential(*layers, head)


class Plain(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(16, 16)
        self.b = nn.Linear(16, 4)

    def forward(self, x):
        return self.b(torch.tanh(self.a(x)) + x)


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: make_fixtures.py OUT_DIR")
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    torch.set_num_threads(1)

    script_save(tanh_mlp(), os.path.join(out, "tanh_20x512.pt"))

    conv = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.Conv2d(4, 4, 3, stride=2),
                         nn.ReLU(), nn.Flatten(), nn.Linear(4 * 3 * 3, 10))
    with torch.no_grad():
        conv[1].running_mean.uniform_(-0.5, 0.5)
        conv[1].running_var.uniform_(0.5, 2.0)
        conv[1].weight.uniform_(0.5, 1.5)
        conv[1].bias.uniform_(-0.2, 0.2)
    script_save(conv, os.path.join(out, "conv_bn.pt"))
    x = torch.randn(5, 1, 8, 8)
    with torch.no_grad():
        y = conv.eval()(x)
    save_atomic(lambda p: numpy.save(open(p, "wb"), x.numpy()), os.path.join(out, "conv_bn_x.npy"))
    save_atomic(lambda p: numpy.save(open(p, "wb"), y.numpy()), os.path.join(out, "conv_bn_y.npy"))

    # Scripted after the Sequentials above, so TorchScript mangles its class name.
    second = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
    scripted = torch.jit.script(second.eval())
    if "mangle" not in scripted._c._type().qualified_name():
        sys.exit("make_fixtures: expected a mangled Sequential class name, got "
                 + scripted._c._type().qualified_name())
    save_atomic(lambda p: torch.jit.save(scripted, p), os.path.join(out, "second_sequential.pt"))

    script_save(Plain(), os.path.join(out, "plain_module.pt"))
    script_save(nn.Sequential(nn.Tanh()), os.path.join(out, "no_weights.pt"))
    script_save(nn.Sequential(nn.BatchNorm1d(4)), os.path.join(out, "norm_only.pt"))
    save_atomic(lambda p: torch.save(tanh_mlp(width=8, depth=2).state_dict(), p), os.path.join(out, "state_dict.pt"))

    with open(os.path.join(out, "tanh_20x512.pt"), "rb") as f:
        data = f.read()
    save_atomic(lambda p: open(p, "wb").write(data[: len(data) // 2]), os.path.join(out, "truncated.pt"))
    save_atomic(lambda p: open(p, "w").write("this is not a TorchScript file\n"), os.path.join(out, "not_torchscript.pt"))


if __name__ == "__main__":
    main()
