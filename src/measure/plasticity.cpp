#include "critlab/measure/plasticity.h"

#include <torch/torch.h>

#include <cmath>

#include "critlab/measure/jacobian.h"

namespace critlab::measure {

double effective_rank(const at::Tensor& matrix) {
  const at::Tensor m = matrix.dim() > 2 ? matrix.flatten(1) : matrix;
  if (m.numel() == 0) return 0.0;
  const at::Tensor s = at::linalg_svdvals(m.to(torch::kFloat64).cpu());
  const double total = s.sum().item<double>();
  if (!(total > 0)) return 0.0;
  const at::Tensor p = s / total;
  const at::Tensor nz = p.masked_select(p > 0);
  return std::exp(-(nz * nz.log()).sum().item<double>());
}

DeadUnits dead_units(const at::Tensor& activations) {
  const at::Tensor a = activations.dim() > 2 ? activations.flatten(1) : activations;
  DeadUnits d;
  d.units = a.size(1);
  d.dead = a.ne(0).any(0).logical_not().sum().item<std::int64_t>();
  return d;
}

std::vector<LayerPlasticity> layer_plasticity(nn::LayerStack& stack, const at::Tensor& probes) {
  nn::EvalModeGuard eval(*stack);
  torch::NoGradGuard no_grad;
  const auto taps = stack->forward_tapped(probes);
  std::vector<LayerPlasticity> out;
  for (auto l : stack->hidden_blocks()) {
    LayerPlasticity p;
    p.index = l;
    p.dead = dead_units(taps[l].output);
    p.effective_rank = effective_rank(taps[l].output);
    double sum = 0, n = 0;
    for (const auto& w : stack->block(l)->weights())
      sum += w.abs().sum().item<double>(), n += static_cast<double>(w.numel());
    p.mean_abs_weight = n > 0 ? sum / n : 0.0;
    out.push_back(p);
  }
  return out;
}

double mean_abs_weight(nn::LayerStack& stack) {
  torch::NoGradGuard no_grad;
  double sum = 0, n = 0;
  for (std::size_t l = 0; l < stack->size(); ++l)
    for (const auto& w : stack->block(l)->weights())
      sum += w.abs().sum().item<double>(), n += static_cast<double>(w.numel());
  return n > 0 ? sum / n : std::nan("");
}

}  // namespace critlab::measure
