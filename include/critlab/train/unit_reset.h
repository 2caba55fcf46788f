// Unit replacement for continual learning, on plain MLP stacks (dense blocks without norm):
//
// Continual backprop (Dohare et al. 2024). For every hidden unit i of layer l, after each step:
//   u_i <- eta u_i + (1 - eta) |h_i| * mean_k |W^{l+1}_{ki}|     contribution utility
//   f_i <- eta f_i + (1 - eta) h_i                              mean activation
// both averaged over the step's examples and bias-corrected by 1 / (1 - eta^age). Units older than
// `maturity` steps are eligible; each step adds replacement_rate * (eligible units) to a per-layer
// accumulator, and floor(accumulator) eligible units with the smallest corrected utility are replaced.
// ReDo (Sokar et al. 2023): every `period` steps, units whose normalised mean |activation| on the step's
// examples, E|h_i| / mean_j E|h_j|, is at most tau are replaced.
//
// Replacing unit i: fresh incoming weights W^l_{i.} ~ N(0, sigma_w^2 / fan_in) and bias 0; zero outgoing
// weights W^{l+1}_{.i}; and the next layer's bias b^{l+1} += W^{l+1}_{.i} f_i (its old outgoing weights times
// its mean activation), so the output stays what it was on average: at input x it moves by exactly
// W^{l+1}_{.i} (f_i - h_i(x)), zero for a unit whose activation is constant. Optimiser state (SGD momentum,
// Adam moments) of the replaced weights is zeroed; utility, mean and age restart at 0.
#pragma once
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>
#include <torch/optim/optimizer.h>

#include "critlab/nn/stack.h"

namespace critlab::train {

struct UnitResetOptions {
  double sigma_w = 1.4142135623730951;  // re-initialisation scale (He for ReLU)
  // Continual backprop.
  double replacement_rate = 1e-4;
  double decay = 0.99;
  std::int64_t maturity = 100;
  // ReDo.
  double tau = 0.0;
  std::int64_t period = 1000;
  bool IsValid(std::string* error) const;
};

// Replaces unit `unit` of hidden block `layer` as described above; `mean_activation` is the f_i used for
// the bias correction. `opt` may be null.
void replace_unit(nn::LayerStack& stack, std::size_t layer, std::int64_t unit, double mean_activation,
                  double sigma_w, torch::optim::Optimizer* opt, std::uint64_t seed);

class ContinualBackprop {
 public:
  ContinualBackprop(nn::LayerStack& stack, const UnitResetOptions& options, std::uint64_t seed);
  // After an optimiser step, with the taps of that step's forward pass. Returns the units replaced.
  std::int64_t update(nn::LayerStack& stack, const std::vector<nn::Tap>& taps, torch::optim::Optimizer* opt);
  std::int64_t replaced_total() const { return replaced_total_; }
  const std::vector<at::Tensor>& ages() const { return age_; }

 private:
  UnitResetOptions o_;
  std::vector<std::size_t> layers_;                // hidden dense blocks followed by a dense block
  std::vector<at::Tensor> utility_, mean_, age_;   // per layer, [units] (float64)
  std::vector<double> accumulator_;
  std::int64_t replaced_total_ = 0;
  std::uint64_t seed_, calls_ = 0;
};

// ReDo at one step: replaces every unit whose normalised mean |activation| over `taps` is <= tau. Returns
// the units replaced.
std::int64_t redo_reset(nn::LayerStack& stack, const std::vector<nn::Tap>& taps, double tau, double sigma_w,
                        torch::optim::Optimizer* opt, std::uint64_t seed);

}  // namespace critlab::train
