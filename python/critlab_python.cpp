// The Python module's native part, _critlab (python/critlab/__init__.py is the user-facing API).
//
// Networks reach critlab two ways: a TorchScript file, imported exactly as `critlab measure --model` does,
// or the top-level children of a live module (scripted or eager), each wrapped as an nn::ForeignModule whose
// forward calls the Python object, so autograd flows through PyTorch's own ops. The measurement runs with the
// GIL released (libtorch's autograd engine refuses to run under it); each call into Python takes it back for
// its duration. The Python objects are created and released with the GIL held: the stack that holds them
// lives in the binding function, outside the released scope. Reports return as JSON text, the CLI's `--json`
// fields, which __init__.py turns into dicts.
#include <fmt/format.h>
#include <pybind11/functional.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>
#include <torch/csrc/autograd/python_variable.h>
#include <torch/csrc/utils/pybind.h>  // at::Tensor <-> torch.Tensor

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "critlab/core/error.h"
#include "critlab/core/runtime.h"
#include "critlab/core/status.h"
#include "critlab/data/dataset.h"
#include "critlab/graph/analysis.h"
#include "critlab/graph/report.h"
#include "critlab/landscape/flux.h"
#include "critlab/measure/criticality.h"
#include "critlab/measure/spectra.h"
#include "critlab/nn/torchscript.h"

namespace py = pybind11;
using namespace critlab;

namespace {

// Options by the CLI flags' names, without dashes: gain_method, hutchinson_probes, lyapunov_k,
// lyapunov_inputs, lyapunov, dynamic_range, branching, input_response, spectra, seed. Unknown names are an
// error.
struct Options {
  measure::MeasureOptions mo;
  bool spectra = true;
};
Options measure_options(const py::dict& options) {
  Options o;
  auto& mo = o.mo;
  std::uint64_t seed = 0;
  for (const auto& [key, value] : options) {
    const auto k = key.cast<std::string>();
    if (k == "gain_method")
      mo.gains.method = from_string<measure::GainMethod>(value.cast<std::string>());
    else if (k == "hutchinson_probes")
      mo.gains.probes = value.cast<int>();
    else if (k == "lyapunov_k")
      mo.lyapunov.k = value.cast<int>();
    else if (k == "lyapunov_inputs")
      mo.lyapunov.max_inputs = value.cast<std::int64_t>();
    else if (k == "lyapunov")
      mo.with_lyapunov = value.cast<bool>();
    else if (k == "dynamic_range")
      mo.with_dynamic_range = value.cast<bool>();
    else if (k == "branching")
      mo.with_branching = value.cast<bool>();
    else if (k == "input_response")
      mo.with_input_response = value.cast<bool>();
    else if (k == "spectra")
      o.spectra = value.cast<bool>();
    else if (k == "seed")
      seed = value.cast<std::uint64_t>();
    else
      throw Error("measure: unknown option '" + k +
                  "' (gain_method, hutchinson_probes, lyapunov_k, lyapunov_inputs, lyapunov, dynamic_range, "
                  "branching, input_response, spectra, seed)");
  }
  mo.gains.seed = mo.lyapunov.seed = mo.dynamic_range.seed = mo.branching.seed = mo.input_response.seed =
      seed;
  std::string error;
  if (!mo.IsValid(&error)) throw Error("measure: " + error);
  return o;
}

std::string measure_stack(nn::ImportedModel& m, const at::Tensor& probes, const Options& o) {
  const auto& mo = o.mo;
  if (probes.dim() < 2 || probes.size(0) < 2)
    throw Error("measure: probes must be a batch [B >= 2, ...] of inputs");
  std::vector<std::int64_t> shape(probes.sizes().begin() + 1, probes.sizes().end());
  nn::check_input_shape(m, shape, probes.device());
  const auto dtype = m.stack->parameters().front().scalar_type();
  const auto report = measure::measure_criticality(m.stack, probes.detach().to(dtype), mo);
  auto j = measure::to_json(report);
  if (o.spectra)
    measure::add_spectra(j, m.stack);
  else
    j["spectra"] = {{"status", to_string(StatusCode::kNotRun)}, {"message", "spectra=False"}};
  j["import"] = nn::to_json(m);
  return j.dump();
}

nn::ImportedModel from_children(const py::list& children, bool chain, const std::string& top_type) {
  std::vector<nn::ForeignModule> parts;
  for (const auto& c : children) {
    const auto t = c.cast<py::tuple>();  // (name, type, module, parameters, buffers)
    nn::ForeignModule f;
    f.name = t[0].cast<std::string>();
    f.type = t[1].cast<std::string>();
    py::object module = t[2];
    f.forward = [module](const at::Tensor& x) {
      py::gil_scoped_acquire gil;
      py::object out = module(x);
      if (!THPVariable_Check(out.ptr()))
        throw Error("a stage returned a " + py::str(py::type::of(out)).cast<std::string>() +
                    ", not a tensor: critlab measures networks whose stages map one tensor to one tensor");
      return out.cast<at::Tensor>();
    };
    if (py::hasattr(module, "train"))  // a plain function stage has no training mode
      f.train = [module](bool on) {
        py::gil_scoped_acquire gil;
        module.attr("train")(on);
      };
    f.parameters = t[3].cast<std::vector<std::pair<std::string, at::Tensor>>>();
    f.buffers = t[4].cast<std::vector<std::pair<std::string, at::Tensor>>>();
    parts.push_back(std::move(f));
  }
  return nn::assemble_imported("python", top_type, std::move(parts), chain);
}

std::string spectra_json(nn::LayerStack& stack, double alpha_max, std::int64_t min_evals, bool ww_cutoff) {
  measure::SpectraOptions so;
  so.fit.alpha_max = alpha_max;
  so.fit.min_evals = min_evals;
  if (ww_cutoff) so.fit.absolute_cutoff = 1e-5;
  return measure::to_json(measure::weight_spectra(stack, so)).dump();
}

}  // namespace

PYBIND11_MODULE(_critlab, m) {
  py::module_::import("torch");
  m.doc() = "critlab's native part; use the critlab package";
  py::register_exception<Error>(m, "Error", PyExc_ValueError);
  m.attr("__version__") = version();

  m.def(
      "measure_file",
      [](const std::string& path, const at::Tensor& probes, const py::dict& options) {
        const auto mo = measure_options(options);
        py::gil_scoped_release release;  // a file's network runs no Python
        auto model = nn::import_torchscript(path, probes.device());
        return measure_stack(model, probes, mo);
      },
      py::arg("path"), py::arg("probes"), py::arg("options"));
  m.def(
      "measure_children",
      [](const py::list& children, bool chain, const std::string& top_type, const at::Tensor& probes,
         const py::dict& options) {
        auto model = from_children(children, chain, top_type);
        const auto mo = measure_options(options);
        py::gil_scoped_release release;
        return measure_stack(model, probes, mo);
      },
      py::arg("children"), py::arg("chain"), py::arg("top_type"), py::arg("probes"), py::arg("options"));
  m.def(
      "spectra_file",
      [](const std::string& path, double alpha_max, std::int64_t min_evals, bool ww_cutoff) {
        py::gil_scoped_release release;
        auto model = nn::import_torchscript(path, torch::kCPU);
        return spectra_json(model.stack, alpha_max, min_evals, ww_cutoff);
      },
      py::arg("path"), py::arg("alpha_max"), py::arg("min_evals"), py::arg("ww_cutoff"));
  m.def(
      "spectra_children",
      [](const py::list& children, bool chain, const std::string& top_type, double alpha_max,
         std::int64_t min_evals, bool ww_cutoff) {
        auto model = from_children(children, chain, top_type);
        py::gil_scoped_release release;
        return spectra_json(model.stack, alpha_max, min_evals, ww_cutoff);
      },
      py::arg("children"), py::arg("chain"), py::arg("top_type"), py::arg("alpha_max"), py::arg("min_evals"),
      py::arg("ww_cutoff"));
  m.def(
      "graph_run",
      [](const std::string& run, const std::vector<std::string>& compare, const std::string& theta_rule,
         double theta, bool pruning, bool hebbian, std::uint64_t seed, int threads,
         const std::string& report) {
        graph::GraphOptions o;
        o.theta_rule = from_string<graph::ThetaRule>(theta_rule);
        if (o.theta_rule == graph::ThetaRule::kFixed) o.theta = theta;
        o.pruning = pruning;
        o.hebbian = hebbian;
        o.seed = seed;
        o.threads = threads;
        for (const auto& c : compare) o.compare.emplace_back(c);
        py::gil_scoped_release release;  // no Python runs in the analysis
        const auto a = graph::analyse_run(run, o);
        if (!report.empty()) graph::write_graph_report(a, report);
        return graph::to_json(a).dump();
      },
      py::arg("run"), py::arg("compare"), py::arg("theta_rule"), py::arg("theta"), py::arg("pruning"),
      py::arg("hebbian"), py::arg("seed"), py::arg("threads"), py::arg("report"));
  m.def(
      "flux",
      [](const at::Tensor& trajectory, double dt, const std::vector<std::string>& names,
         const py::dict& options) {
        if (trajectory.dim() != 2)
          throw Error(
              fmt::format("critlab.flux: the trajectory must be [steps, coordinates], got {} dimension(s)",
                          trajectory.dim()));
        const auto x = trajectory.detach().to(torch::kCPU, torch::kFloat64).contiguous();
        const auto n = x.size(0), d = x.size(1);
        std::vector<std::vector<double>> coords(static_cast<std::size_t>(d),
                                                std::vector<double>(static_cast<std::size_t>(n)));
        const auto a = x.accessor<double, 2>();
        for (std::int64_t t = 0; t < n; ++t)
          for (std::int64_t k = 0; k < d; ++k)
            coords[static_cast<std::size_t>(k)][static_cast<std::size_t>(t)] = a[t][k];
        landscape::FluxOptions o;
        o.dt = dt;
        for (const auto& [key, value] : options) {
          const auto k = key.cast<std::string>();
          if (k == "pair") {
            const auto p = value.cast<std::vector<std::int64_t>>();
            if (p.size() != 2) throw Error("critlab.flux: pair must be two coordinate indices");
            o.pair = {p[0], p[1]};
          } else if (k == "bins")
            o.bins = value.cast<std::int64_t>();
          else if (k == "min_box_count")
            o.min_box_count = value.cast<std::int64_t>();
          else if (k == "blocks")
            o.blocks = value.cast<std::int64_t>();
          else if (k == "bootstrap")
            o.bootstrap = value.cast<std::int64_t>();
          else if (k == "tur_steps")
            o.tur_steps = value.cast<std::int64_t>();
          else if (k == "confidence")
            o.confidence = value.cast<double>();
          else if (k == "seed")
            o.seed = value.cast<std::uint64_t>();
          else
            throw Error("critlab.flux: unknown option '" + k +
                        "' (pair, bins, min_box_count, blocks, bootstrap, tur_steps, confidence, seed)");
        }
        py::gil_scoped_release release;
        const auto r = landscape::analyze_flux(coords, o, names);
        if (!r.ok()) throw Error("critlab.flux: " + r.status.message);
        return landscape::to_json(r).dump();
      },
      py::arg("trajectory"), py::arg("dt"), py::arg("names"), py::arg("options"));
  m.def(
      "gaussian_probes",
      [](std::int64_t n, const std::vector<std::int64_t>& shape, std::uint64_t seed) {
        // Exactly the probes of `critlab measure --probe-source gaussian --probes n --seed seed`.
        return data::probe_inputs(data::ProbeSource::kGaussian, n, shape, "", seed + 1);
      },
      py::arg("n"), py::arg("input_shape"), py::arg("seed") = 0);
}
