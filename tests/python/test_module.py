"""The Python module against the command line (must-show 3 of the import issue): the same file gives the same
numbers through `critlab measure --json` and critlab.measure, as a path, a scripted module, an eager
nn.Sequential with the same weights and a list of stages. Run by ctest with PYTHONPATH at build/python and
CRITLAB_BIN, CRITLAB_FIXTURES set."""
import json
import math
import os
import subprocess
import unittest

import torch
from torch import nn

import critlab

BIN = os.environ["CRITLAB_BIN"]
FIXTURES = os.environ["CRITLAB_FIXTURES"]


def cli(*args):
    r = subprocess.run([BIN, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"critlab {' '.join(args)} exited {r.returncode}: {r.stderr}")
    return json.loads(r.stdout)


def numbers(report):
    """The measured figures of a report, flattened in a fixed order (None where a figure is null)."""
    out = []
    for layer in report["layers"]:
        out += [layer["gain_sq"], layer["gain_sq_se"], layer["log_gain"]]
    out.append(report["distance_to_criticality"])
    out += report["lyapunov"]
    out += [report["dynamic_range"]["delta_db"], report["branching"]["sigma"], report["branching"]["sigma_binary"]]
    for layer in report["spectra"]["layers"]:
        out += [layer["alpha"], layer["log_norm"], layer["stable_rank"]]
    return out


class MeasureMatchesTheCli(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.file = os.path.join(FIXTURES, "second_sequential.pt")  # Linear/Tanh x2 + Linear, 8 -> 3
        cls.cli = cli("measure", "--model", cls.file, "--probe-source", "gaussian", "--probes", "48", "--seed", "3",
                      "--json")
        cls.probes = critlab.gaussian_probes(48, [8], seed=3)

    def assert_same(self, report, rel, same_blocks=True):
        want, got = numbers(self.cli), numbers(report)
        self.assertEqual(len(want), len(got))
        for i, (a, b) in enumerate(zip(want, got)):
            if a is None or b is None:
                self.assertEqual(a, b, f"figure {i}")
            else:
                self.assertLessEqual(abs(a - b), rel * max(1.0, abs(a)), f"figure {i}: {a} vs {b}")
        if same_blocks:
            self.assertEqual([l["block"] for l in report["layers"]], [l["block"] for l in self.cli["layers"]])

    def test_path_is_the_cli_exactly(self):
        self.assert_same(critlab.measure(self.file, self.probes, seed=3), 0.0)

    def test_scripted_module(self):
        self.assert_same(critlab.measure(torch.jit.load(self.file), self.probes, seed=3), 1e-9)

    def test_eager_sequential_and_stages(self):
        scripted = torch.jit.load(self.file)
        eager = nn.Sequential(nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 8), nn.Tanh(), nn.Linear(8, 3))
        eager.load_state_dict(scripted.state_dict())
        eager.train()
        self.assert_same(critlab.measure(eager, self.probes, seed=3), 1e-9)
        self.assertTrue(eager.training, "the module's training mode is restored")
        stages = [nn.Sequential(eager[0], eager[1]), nn.Sequential(eager[2], eager[3]), eager[4]]
        report = critlab.measure(stages, self.probes, seed=3)
        self.assert_same(report, 1e-9, same_blocks=False)
        self.assertEqual(report["import"]["blocks"], ["0:Sequential", "1:Sequential", "2:Linear"])
        # A plain function as a stage joins the block before it.
        funcs = [eager[0], torch.tanh, eager[2], torch.tanh, eager[4]]
        report = critlab.measure(funcs, self.probes, seed=3)
        self.assert_same(report, 1e-9, same_blocks=False)
        self.assertEqual(report["import"]["blocks"], ["0:Linear+1:tanh", "2:Linear+3:tanh", "4:Linear"])

    def test_mean_field_numbers_survive_the_round_trip(self):
        # The CLI's own figures are sane: a contracting 8-wide tanh net (gains below 1, lambda_1 < 0).
        self.assertTrue(all(l["gain_sq"] < 1 for l in self.cli["layers"]))
        self.assertLess(self.cli["lyapunov"][0], 0)


class SpectraMatchesTheCli(unittest.TestCase):
    def test_conv_and_linear_weights(self):
        f = os.path.join(FIXTURES, "conv_bn.pt")
        want = cli("spectra", "--model", f, "--json")
        got = critlab.spectra(f)
        self.assertEqual(want["layers"], got["layers"])
        eager = torch.jit.load(f)
        got = critlab.spectra(eager)
        self.assertEqual([l["shape"] for l in want["layers"]], [l["shape"] for l in got["layers"]])
        self.assertEqual(want["layers"][0]["matrices"], 9)  # a 3x3 kernel: nine 4x1 slices pooled
        for a, b in zip(want["layers"], got["layers"]):
            self.assertAlmostEqual(a["log_norm"], b["log_norm"], places=12)


class BadInput(unittest.TestCase):
    def test_errors_are_critlab_errors_with_one_line(self):
        probes = critlab.gaussian_probes(8, [8])
        cases = [
            (lambda: critlab.measure(nn.Tanh(), probes), "no parameters"),
            (lambda: critlab.measure(nn.Linear(5, 3), probes), "rejects inputs of shape [1,8]"),
            (lambda: critlab.measure(nn.Linear(8, 3), probes[0]), "probes must be a batch"),
            (lambda: critlab.measure(nn.Linear(8, 3), probes, lyapunov_kk=3), "unknown option 'lyapunov_kk'"),
            (lambda: critlab.measure(os.path.join(FIXTURES, "truncated.pt"), probes), "cannot be loaded"),
            (lambda: critlab.measure(42, probes), "expected a TorchScript file"),
            (lambda: critlab.spectra(nn.Sequential(nn.BatchNorm1d(4))), "no weight matrices"),
            (lambda: critlab.spectra(nn.Sequential(nn.Tanh())), "no parameters"),
        ]
        for f, needle in cases:
            with self.assertRaises(critlab.Error) as ctx:
                f()
            msg = str(ctx.exception)
            self.assertIn(needle, msg)
            self.assertNotIn("\n", msg.strip())

    def test_a_stage_that_raises_is_named_in_the_error(self):
        class Bad(nn.Module):
            def __init__(self):
                super().__init__()
                self.w = nn.Linear(8, 8)

            def forward(self, x):
                raise KeyError("boom")

        with self.assertRaises(critlab.Error) as ctx:
            critlab.measure(nn.Sequential(nn.Linear(8, 8), Bad()), critlab.gaussian_probes(8, [8]))
        self.assertIn("boom", str(ctx.exception))


class GraphMatchesTheCli(unittest.TestCase):
    """critlab.graph on a recorded run gives the CLI's `graph --json` numbers, and writes nothing unless asked."""

    def test_graph_summary_is_the_cli(self):
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            run = os.path.join(d, "run")
            r = subprocess.run([BIN, "train", "--arch", "mlp", "--depth", "2", "--width", "16", "--activation", "tanh",
                                "--batch-size", "100", "--train-examples", "500", "--epochs", "1", "--threads", "1",
                                "--record", "--record-points", "5", "--record-probes", "60", "--out", run],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            want = cli("graph", "--run", run, "--json", "--no-pruning", "--threads", "1", "--out",
                       os.path.join(d, "cli_report"))
            got = critlab.graph(run, threads=1)
            self.assertFalse(os.path.exists(os.path.join(run, "graph")))
            for key in ("theta", "theta_rule", "theta_c", "percolation", "transition", "hebbian", "redistribution"):
                self.assertEqual(got[key], want[key], key)
            fixed = critlab.graph(run, theta=0.4, hebbian=False, threads=1, report=os.path.join(d, "py_report"))
            self.assertEqual(fixed["theta_rule"], "fixed")
            self.assertEqual(fixed["theta"], 0.4)
            self.assertEqual(fixed["hebbian_tests"]["status"], "not-run")
            self.assertTrue(os.path.exists(os.path.join(d, "py_report", "summary.json")))
            with self.assertRaises(critlab.Error):
                critlab.graph(os.path.join(d, "missing"))


if __name__ == "__main__":
    unittest.main()


class FluxMatchesTheCli(unittest.TestCase):
    def test_flux_of_a_tensor_is_the_cli_on_its_csv(self):
        import tempfile
        g = torch.Generator().manual_seed(4)
        n, dt = 20000, 0.01
        x = torch.zeros(n, 2, dtype=torch.float64)
        noise = torch.randn(n, 2, generator=g, dtype=torch.float64) * math.sqrt(2 * dt)
        for t in range(1, n):  # dx = -A x dt + sqrt(2) dW, A = [[1, -1], [1, 1]]: e_p = 2, L_12 = -1
            a, b = x[t - 1].tolist()
            x[t, 0] = a - (a - b) * dt + noise[t, 0]
            x[t, 1] = b - (a + b) * dt + noise[t, 1]
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "traj.csv")
            with open(path, "w") as f:
                f.write("u,v\n")
                for a, b in x.tolist():
                    f.write(f"{a!r},{b!r}\n")
            want = cli("flux", "--trajectory", path, "--dt", str(dt), "--tur-steps", "3", "--json")
        got = critlab.flux(x, dt, columns=["u", "v"], tur_steps=3)
        want.pop("file")
        self.assertEqual(got, want)
        self.assertAlmostEqual(got["area_rate"][0][1], -1.0, delta=0.2)
        with self.assertRaises(critlab.Error):
            critlab.flux(x[:50], dt)
        with self.assertRaises(critlab.Error):
            critlab.flux(x, dt, nonsense=1)
