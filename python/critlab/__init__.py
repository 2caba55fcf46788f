"""critlab from Python: criticality measures and weight spectra of PyTorch networks.

    import critlab, torch
    report = critlab.measure(model, torch.randn(256, 784))   # gains, Lyapunov, dynamic range, branching, spectra
    table = critlab.spectra(model)                           # WeightWatcher-style alpha per weight matrix

`model` is a TorchScript file path, a scripted module, an eager nn.Module, or a list of stages. An
nn.Sequential (eager or scripted) is measured block by block: its children are grouped so that each block
starts at a child owning a weight matrix and takes the parameter-free children after it (Linear+Tanh,
Conv2d+BatchNorm2d+ReLU, or whole stages). A list or tuple of modules is a chain of stages, grouped the same
way. Any other module is measured as one block, input to output. The network is measured in eval mode (batch
norm with its running statistics, dropout off) and its training mode is restored afterwards.

Both functions return the dicts that `critlab measure --json` and `critlab spectra --json` print, without the
command line's `source` and `runtime` fields. Eager modules run their own forward through Python, with
autograd flowing through PyTorch's ops; nothing is scripted or copied.
"""
import json
import os

import torch

from . import _critlab
from ._critlab import Error, gaussian_probes

__version__ = _critlab.__version__
__all__ = ["measure", "spectra", "graph", "flux", "gaussian_probes", "Error"]


def _is_sequential(module):
    if isinstance(module, torch.nn.Sequential):
        return True
    # A scripted nn.Sequential is a RecursiveScriptModule whose original class was Sequential.
    return isinstance(module, torch.jit.ScriptModule) and getattr(module, "original_name", "") == "Sequential"


def _child(name, module):
    """A stage: a module, or any callable (a function has no parameters and joins the block before it)."""
    is_module = isinstance(module, torch.nn.Module)
    params = [(n, p) for n, p in module.named_parameters()] if is_module else []
    buffers = [(n, b) for n, b in module.named_buffers() if b is not None] if is_module else []
    kind = getattr(module, "original_name", None) or type(module).__name__
    if not is_module:
        kind = getattr(module, "__name__", kind)
    return (str(name), kind, module, params, buffers)


def _children(model):
    """(children, chain, top_type) in the form _critlab expects."""
    if isinstance(model, (list, tuple)):
        if not model:
            raise Error("critlab: an empty list of stages")
        for i, m in enumerate(model):
            if not callable(m):
                raise Error(f"critlab: stage {i} is a {type(m).__name__}, not a module")
        return [_child(i, m) for i, m in enumerate(model)], True, "list"
    if not isinstance(model, torch.nn.Module):
        raise Error(f"critlab: expected a TorchScript file, an nn.Module or a list of stages, got "
                    f"{type(model).__name__}")
    top = getattr(model, "original_name", None) or type(model).__name__
    if _is_sequential(model) and len(list(model.children())) > 0:
        return [_child(n, m) for n, m in model.named_children()], True, top
    return [_child("model", model)], False, top


class _EvalMode:
    """Puts modules in eval mode for the measurement and restores each one's mode after."""

    def __init__(self, model):
        self.modules = list(model) if isinstance(model, (list, tuple)) else [model]

    def __enter__(self):
        self.modes = [(m, m.training) for m in self.modules if isinstance(m, torch.nn.Module)]
        for m, _ in self.modes:
            m.eval()

    def __exit__(self, *exc):
        for m, mode in self.modes:
            m.train(mode)


def measure(model, probes, **options):
    """The criticality report of `model` on the inputs `probes` ([B >= 2, ...] tensor) as a dict.

    Options (the CLI's flags): gain_method ('auto', 'analytic', 'exact', 'hutchinson'), hutchinson_probes,
    lyapunov_k, lyapunov_inputs, lyapunov / dynamic_range / branching / spectra (False skips it),
    input_response (True adds the finite-depth input-response scan), seed.
    """
    if not isinstance(probes, torch.Tensor):
        raise Error("critlab: probes must be a torch.Tensor [B, ...] of inputs (critlab.gaussian_probes makes "
                    "the CLI's Gaussian probes)")
    if isinstance(model, (str, os.PathLike)):
        return json.loads(_critlab.measure_file(os.fspath(model), probes, dict(options)))
    children, chain, top = _children(model)
    with _EvalMode(model), torch.enable_grad():
        return json.loads(_critlab.measure_children(children, chain, top, probes, dict(options)))


def spectra(model, alpha_max=8.0, min_evals=10, ww_cutoff=False):
    """WeightWatcher-compatible spectra of every weight matrix of `model` as a dict: `layers` (one entry per
    weight: alpha, alpha_weighted, xmin, ks, log_norm, log_spectral_norm, stable_rank, lambda_max, status, ...)
    and `summary` (mean alpha over the fitted ones). A failed fit is null with its status, never a number.
    `ww_cutoff` drops eigenvalues <= 1e-5 first, as WeightWatcher does."""
    if isinstance(model, (str, os.PathLike)):
        return json.loads(_critlab.spectra_file(os.fspath(model), alpha_max, min_evals, ww_cutoff))
    children, chain, top = _children(model)
    with _EvalMode(model):
        return json.loads(_critlab.spectra_children(children, chain, top, alpha_max, min_evals, ww_cutoff))


def graph(run, compare=(), theta_rule="final", theta=None, pruning=False, hebbian=True, seed=0, threads=0,
          report=None):
    """The `critlab graph --json` summary of a run recorded with `critlab train --record`, as a dict: theta_c
    per step, percolation and the transition at the rule's theta, the Hebbian and redistribution tests,
    avalanches, critical neurons, and with `compare` (further recorded runs: other widths and seeds) the
    finite-size scaling. `theta` selects the fixed rule. `pruning` runs the pruning test (it needs the run's
    Fashion-MNIST test set). `report` names a directory to write the tables and plots into (the CLI's --out);
    by default nothing is written."""
    if theta is not None:
        if theta_rule not in ("final", "fixed"):
            raise Error(f"critlab: theta sets the fixed rule; it cannot be combined with theta_rule={theta_rule!r}")
        theta_rule = "fixed"
    return json.loads(_critlab.graph_run(os.fspath(run), [os.fspath(c) for c in compare], theta_rule,
                                         0.0 if theta is None else float(theta), bool(pruning), bool(hebbian),
                                         int(seed), int(threads), "" if report is None else os.fspath(report)))


def flux(trajectory, dt, columns=None, **options):
    """The `critlab flux --json` result for a trajectory, as a dict: entropy production (grid estimator and TUR
    bound, with block-bootstrap CIs), area-enclosing rates, diffusion, the drift decomposition.

    `trajectory`: a [steps, coordinates] tensor, NumPy array or nested list (e.g. a network's weights recorded
    every step and projected on a few directions); `dt`: the time between rows; `columns`: names of the
    coordinates. Options as the command's flags: pair=(0, 1), bins, min_box_count, blocks, bootstrap,
    tur_steps, confidence, seed. A trajectory the estimators cannot use raises critlab.Error."""
    x = torch.as_tensor(trajectory, dtype=torch.float64)
    names = [str(c) for c in columns] if columns is not None else []
    return json.loads(_critlab.flux(x, float(dt), names, dict(options)))
