#include "critlab/measure/dynamic_range.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "critlab/core/error.h"
#include "critlab/stats/driven_map.h"
#include "measure/tensor_util.h"

namespace critlab::measure {

bool DynamicRangeOptions::IsValid(std::string* error) const {
  const auto fail = [&](const char* m) {
    if (error) *error = m;
    return false;
  };
  if (!(eps_min >= 1e-12 && eps_min <= 1e-2))
    return fail("dynamic range: the layer map's weakest perturbation must be within [1e-12, 1e-2]");
  if (per_decade < 1 || per_decade > 100) return fail("dynamic range: points per decade must be in [1, 100]");
  if (!(linear_step >= 0.001 && linear_step <= 0.3))
    return fail("dynamic range: the linear step must be in [0.001, 0.3]");
  if (!(0 < low && low < high && high < 1)) return fail("dynamic range: needs 0 < low < high < 1");
  if (max_inputs < 0) return fail("dynamic range: max_inputs must be >= 0");
  return true;
}

namespace {

struct BlockMap {
  // eps' at each grid point (only the first for a homogeneous block); empty when no probe has activity here
  std::vector<double> value;
  bool homogeneous = false;
  bool finite = true;
};

// Block `block`'s map of eps at its input activity h ([B, ...]).
BlockMap block_map(nn::BlockImpl& block, const at::Tensor& h, const at::Tensor& y,
                   const std::vector<double>& grid, at::Generator& gen) {
  BlockMap m;
  const auto flat = h.flatten(1);
  const std::int64_t batch = flat.size(0), units = flat.size(1);
  // v: each row's units shuffled, made orthogonal to the row and as long; rows without activity, or whose
  // shuffle is parallel to them (all units equal), are left out.
  const auto order = at::rand({batch, units}, gen, torch::TensorOptions().dtype(at::kDouble))
                         .argsort(/*dim=*/1, /*descending=*/false)
                         .to(flat.device());
  at::Tensor v = flat.gather(1, order);
  const auto sq = flat.pow(2).sum(1, true);
  v = v - (v * flat).sum(1, true) / sq.clamp_min(1e-300) * flat;
  const auto vsq = v.pow(2).sum(1, true);
  const auto keep = ((sq > 0) & (vsq > 1e-12 * sq)).squeeze(1);
  if (!keep.any().item<bool>()) return m;
  // At most one pass's worth of rows (4096, or 2^25 input values: 256 MiB in double) take part.
  const std::int64_t max_rows =
      std::clamp<std::int64_t>((std::int64_t{1} << 25) / std::max<std::int64_t>(1, units), 1, 4096);
  auto rows = keep.nonzero().squeeze(1);
  if (rows.size(0) > max_rows) rows = rows.slice(0, 0, max_rows);
  const at::Tensor base = flat.index_select(0, rows);
  v = (v.index_select(0, rows) * (sq.index_select(0, rows) / vsq.index_select(0, rows)).sqrt());
  const at::Tensor out = y.flatten(1).index_select(0, rows);
  const double out_sq = out.pow(2).sum(at::kDouble).item<double>();
  if (!std::isfinite(out_sq)) {
    m.finite = false;
    return m;
  }
  if (!(out_sq > 0)) return m;
  const std::int64_t kept = base.size(0);
  std::vector<std::int64_t> shape(h.sizes().begin(), h.sizes().end());
  // Homogeneity first, h and 2h in one call: a homogeneous block's map is left out of G, so only its slope is
  // computed. f(2h) = 2 f(h) to 1e-9 in double, 1e-5 in float (exact for linear and bias-free ReLU blocks in
  // either; a ReLU block whose biases are below about 1e-5 of its activity counts as homogeneous in float).
  {
    shape[0] = 2 * kept;
    const auto both = block.forward(at::cat({base, 2 * base}).view(shape)).flatten(1);
    const auto once = both.slice(0, 0, kept), twice = both.slice(0, kept, 2 * kept);
    const double tolerance = out.scalar_type() == at::kDouble ? 1e-18 : 1e-10;
    m.homogeneous = (twice - 2 * once).pow(2).sum(at::kDouble).item<double>() <=
                    tolerance * 4 * once.pow(2).sum(at::kDouble).item<double>();
  }
  const std::size_t sizes = m.homogeneous ? 1 : grid.size();
  // The perturbed copies, several grid points per pass (up to 4096 rows and 2^25 input values, 256 MiB in
  // double).
  const auto per_pass = static_cast<std::size_t>(std::max<std::int64_t>(1, max_rows / kept));
  for (std::size_t first = 0; first < sizes; first += per_pass) {
    const std::size_t count = std::min(per_pass, sizes - first);
    std::vector<at::Tensor> inputs;
    for (std::size_t k = first; k < first + count; ++k) {
      const double c = 1 - grid[k], s = std::sqrt(grid[k] * (2 - grid[k]));  // sin(theta), exact at small eps
      inputs.push_back(c * base + s * v);
    }
    const auto stacked = at::cat(inputs);
    shape[0] = stacked.size(0);
    const auto perturbed =
        block.forward(stacked.view(shape)).flatten(1).view({static_cast<std::int64_t>(count), kept, -1});
    const auto d = (perturbed - out.unsqueeze(0)).pow(2).sum({1, 2}, false, at::kDouble).cpu().contiguous();
    const auto n = perturbed.pow(2).sum({1, 2}, false, at::kDouble).cpu().contiguous();
    for (std::size_t k = 0; k < count; ++k)
      m.value.push_back(d.data_ptr<double>()[k] / (n.data_ptr<double>()[k] + out_sq));
  }
  for (double e : m.value) m.finite = m.finite && std::isfinite(e);
  return m;
}

// The dtype of the network's first floating-point parameter (float for a network without one).
at::ScalarType parameter_dtype(nn::LayerStack& stack) {
  for (const auto& p : stack->parameters())
    if (p.is_floating_point()) return p.scalar_type();
  return at::kFloat;
}

}  // namespace

bool dynamic_range_in_double(nn::LayerStack& stack, const at::Tensor& probes,
                             const DynamicRangeOptions& options) {
  const auto dtype = parameter_dtype(stack);
  return options.double_precision || !probes.device().is_cpu() ||
         (dtype != at::kFloat && dtype != at::kDouble);
}

DynamicRangeResult dynamic_range(nn::LayerStack& stack, const at::Tensor& probes,
                                 const DynamicRangeOptions& options) {
  std::string err;
  if (!options.IsValid(&err)) throw Error(err);
  DynamicRangeResult r;
  const auto hidden = stack->hidden_blocks();
  if (hidden.size() < 2) {
    r.status = make_status(StatusCode::kNotApplicable,
                           "the dynamic range reads the maps between hidden layers: it needs at least two");
    return r;
  }
  nn::EvalModeGuard eval(*stack);
  torch::NoGradGuard no_grad;
  // Float maps only where float means float (dynamic_range_in_double).
  std::optional<DoublePrecisionScope> precision;
  if (dynamic_range_in_double(stack, probes, options)) precision.emplace(*stack);
  const at::ScalarType dtype = parameter_dtype(stack);
  const at::Tensor x = (options.max_inputs > 0 ? probes.slice(0, 0, options.max_inputs) : probes).to(dtype);
  const auto taps = stack->forward_tapped(x);
  r.eps = stats::map_grid(options.eps_min, options.per_decade, options.linear_step);
  r.map.assign(r.eps.size(), 0.0);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  int used = 0;
  for (std::size_t k = 1; k < hidden.size(); ++k) {
    const std::size_t l = hidden[k];
    const auto m = block_map(*stack->block(l), taps[l].input, taps[l].output, r.eps, gen);
    if (!m.finite) {
      r.map.clear();
      r.layers.clear();
      r.status =
          make_status(StatusCode::kNonFinite, fmt::format("block {} is not finite (a diverged network)", l));
      return r;
    }
    if (m.value.empty()) continue;
    r.layers.push_back({.index = l, .slope = m.value.front() / r.eps.front(), .homogeneous = m.homogeneous});
    if (m.homogeneous) continue;
    for (std::size_t i = 0; i < r.map.size(); ++i) r.map[i] += m.value[i];
    ++used;
  }
  if (used == 0) {
    r.map.clear();
    r.status =
        r.layers.empty()
            ? make_status(StatusCode::kNotFound, "no hidden layer has activity at these probes")
            : make_status(StatusCode::kNotApplicable,
                          "every hidden block is positively homogeneous (linear, or ReLU without bias): "
                          "its map of eps is scale-free (the gain only rescales norms), so every such "
                          "network would read the same: no dynamic range");
    return r;
  }
  for (double& g : r.map) g /= used;
  const auto d = stats::driven_map_response(r.eps, r.map, {.low = options.low, .high = options.high});
  r.slope = d.slope;
  r.baseline = d.baseline;
  r.plateau = d.plateau;
  r.rate_low = d.rate_low;
  r.rate_high = d.rate_high;
  r.delta_db = d.delta_db;
  r.rates = d.rates;
  r.response = d.response;
  r.status = d.status;
  if (r.ok() && used < static_cast<int>(r.layers.size()))
    r.status.message = fmt::format("{} positively homogeneous block(s) left out of the mean map",
                                   static_cast<int>(r.layers.size()) - used);
  return r;
}

nlohmann::json to_json(const DynamicRangeResult& r) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& l : r.layers)
    layers.push_back(
        {{"layer", l.index}, {"slope", finite_or_null(l.slope)}, {"homogeneous", l.homogeneous}});
  nlohmann::json j{{"delta_db", or_null(r.delta_db)},
                   {"rate_low", or_null(r.rate_low)},
                   {"rate_high", or_null(r.rate_high)},
                   {"baseline", or_null(r.baseline)},
                   {"plateau", or_null(r.plateau)},
                   {"slope", or_null(r.slope)},
                   {"eps", r.eps},
                   {"map", r.map},
                   {"rates", r.rates},
                   {"response", r.response},
                   {"per_layer", layers}};
  put_status(j, r.status);
  return j;
}

}  // namespace critlab::measure
