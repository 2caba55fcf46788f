// Plasticity measures of a network on a probe set (Dohare et al. 2024): dead units, the effective rank of
// each layer's representation, and the mean weight magnitude.
//
// Effective rank (Roy & Vetterli 2007): with the singular values s_k of the activation matrix [examples,
// units] and p_k = s_k / sum_j s_j, erank = exp(-sum_k p_k ln p_k); between 1 (rank one) and min(examples,
// units) (all singular values equal); 0 for an all-zero matrix.
// A unit is dead when its activation is exactly zero on every probe example.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include "critlab/nn/stack.h"

namespace critlab::measure {

double effective_rank(const at::Tensor& matrix);

struct DeadUnits {
  std::int64_t dead = 0, units = 0;
  double fraction() const { return units ? static_cast<double>(dead) / static_cast<double>(units) : 0.0; }
};
// activations: [examples, units] (or [examples, ...], flattened per example).
DeadUnits dead_units(const at::Tensor& activations);

struct LayerPlasticity {
  std::size_t index = 0;
  DeadUnits dead;
  double effective_rank = 0;
  double mean_abs_weight = 0;  // over the block's weight matrices / kernels
};
// Per hidden block of `stack` on `probes` (eval mode, no gradients).
std::vector<LayerPlasticity> layer_plasticity(nn::LayerStack& stack, const at::Tensor& probes);

// Mean |w| over the weights() of every block, the readout included: the whole network's weight magnitude
// (Dohare et al.'s "average weight magnitude"), where LayerPlasticity::mean_abs_weight is one block's.
double mean_abs_weight(nn::LayerStack& stack);

}  // namespace critlab::measure
