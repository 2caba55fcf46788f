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
#include <ATen/core/Tensor.h>
#include <torch/optim/optimizer.h>

#include <cstdint>
#include <functional>
#include <nlohmann/json_fwd.hpp>
#include <vector>

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

// Zeroes the optimiser state of slice `index` along `dim` of parameter `param` (empty = no state).
using StateReset = std::function<void(const at::Tensor& param, std::int64_t dim, std::int64_t index)>;
// The reset for a torch optimiser (SGD momentum, Adam moments); `opt` may be null.
StateReset optimizer_state_reset(torch::optim::Optimizer* opt);

// The outputs of a tapped forward pass's hidden blocks (all but the last), [B, units] each.
std::vector<at::Tensor> hidden_outputs(const std::vector<nn::Tap>& taps);

// Replaces unit `unit` of hidden block `layer` as described above; `mean_activation` is the f_i used for
// the bias correction.
void replace_unit(nn::LayerStack& stack, std::size_t layer, std::int64_t unit, double mean_activation,
                  double sigma_w, const StateReset& reset, std::uint64_t seed);

class ContinualBackprop {
 public:
  ContinualBackprop(nn::LayerStack& stack, const UnitResetOptions& options, std::uint64_t seed);
  // After an optimiser step, with that step's hidden outputs ([B, units] from hidden_outputs, or one
  // example's [units] from an online learner). Returns the units replaced.
  std::int64_t update(nn::LayerStack& stack, const std::vector<at::Tensor>& hidden,
                      const StateReset& reset = {});
  std::int64_t replaced_total() const { return replaced_total_; }
  // Utilities, means, ages, accumulators and counters, for checkpoints (restored bit for bit).
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  UnitResetOptions o_;
  std::vector<std::size_t> layers_;                        // hidden dense blocks followed by a dense block
  std::vector<std::vector<double>> utility_, mean_, age_;  // per layer, per unit
  std::vector<double> accumulator_;
  std::int64_t replaced_total_ = 0;
  std::uint64_t seed_, calls_ = 0;
};

// ReDo at one step: replaces every unit whose normalised mean |activation|, mean_abs[l][i] / mean_j
// mean_abs[l][j], is <= tau; `mean[l]` are the units' mean activations (for the bias correction). Returns
// the units replaced.
std::int64_t redo_reset(nn::LayerStack& stack, const std::vector<at::Tensor>& mean_abs,
                        const std::vector<at::Tensor>& mean, double tau, double sigma_w,
                        const StateReset& reset, std::uint64_t seed);
// The same with the scores of one batch of hidden outputs (hidden_outputs).
std::int64_t redo_reset(nn::LayerStack& stack, const std::vector<at::Tensor>& hidden, double tau,
                        double sigma_w, const StateReset& reset, std::uint64_t seed);

// ReDo in an online stream: accumulates E|h_i| and E h_i over `period` steps, then resets (redo_reset).
class Redo {
 public:
  Redo(nn::LayerStack& stack, const UnitResetOptions& options, std::uint64_t seed);
  std::int64_t update(nn::LayerStack& stack, const std::vector<at::Tensor>& hidden,
                      const StateReset& reset = {});
  std::int64_t replaced_total() const { return replaced_total_; }
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  UnitResetOptions o_;
  std::vector<at::Tensor> sum_abs_, sum_;  // per layer [units], float64
  std::int64_t count_ = 0, replaced_total_ = 0;
  std::uint64_t seed_, resets_ = 0;
};

}  // namespace critlab::train
