// Criticality maintenance for online (continual) learning on plain MLP stacks: two maintainers that keep
// every hidden layer's Jacobian gain near 1 on the *current* inputs without ever dividing by silent units,
// and a function-preserving "gauge" rescaling that moves the distance to criticality while holding the
// network's function, dead fraction, effective rank and mean |W| fixed (the causal intervention arm).
//
// Unit statistics (UnitStats). After every step, for every hidden unit i of layer l with pre-activation z_i
// and output h_i = phi(z_i), exponential moving averages with time constant `window` steps (rate
// beta = 1 / window), bias-corrected by 1 / (1 - (1 - beta)^age) (age: steps since the unit was created):
//   mu_i = E z_i,  s_i^2 = E z_i^2 - mu_i^2,  c_i = E phi'(z_i)^2,  f_i = E h_i
// The unit's contribution to the layer's gain is g_i = c_i n_i with n_i = |W_i|^2; the layer's gain is
// gain_sq_l = mean_i g_i (measure/jacobian.h's closed form, averaged over recent inputs). A unit is *silent*
// when c_i < `silent` (ReLU: active on fewer than 1% of recent inputs; tanh: saturated). Only units with
// age >= window are corrected: every correction is measured on at least `window` recent inputs.
//
// Homeostasis (per unit synaptic scaling):
//   every unit that is not silent: e_i = ln(max(c_i, band) n_i); if |e_i| / 2 > tolerance,
//             (W_i, b_i) <- r (W_i, b_i),  ln r = clip(-rate e_i / 2, +-max_step)
//   A unit active at least `band` of the time is pulled to g_i = 1; a quieter one only to the norm
//   n_i = 1 / band, never beyond: a rarely active unit is not inflated. Silent units are skipped (no
//   gradient reaches them and scaling them would change nothing). For ReLU a unit's activity pattern is
//   unchanged by r and e_i moves by exactly 2 ln r: the law contracts e_i by (1 - rate) per round,
//   monotonically for rate <= 1. Each unit is corrected on its own statistics: a silent unit never makes a
//   live one grow. Forms measured and rejected (784-100x3-10 ReLU, permuted Fashion-MNIST, 5,000 examples
//   per task): g_i = 1 for every live unit gave rarely active units norms up to 1 / c_i and SGD diverged
//   within two tasks; pushing units into an activity band through their biases made biases and
//   pre-activations grow without bound against SGD; reviving silent units through their bias (up to mean
//   pre-activation 0) pumped the revived units' biases task after task until the network collapsed to
//   chance at task 17 of 30 (seed 1), where the same law without revival held 0.71 accuracy.
// Critical re-initialisation (per layer):
//   silent    units silent for a full window are re-initialised at the critical scale (train/unit_reset.h's
//             replace_unit with sigma_w from the mean-field edge of chaos: fresh incoming weights, zero
//             outgoing weights, the next bias compensated by the unit's mean output f_i);
//   gain      over the live units only, G = mean_live g_i; if |ln G| / 2 > tolerance every live unit's
//             (W_i, b_i) is scaled by r, ln r = clip(-rate ln(G) / 2, +-max_step).
// After a gain correction the unit's statistics are rescaled with it (mu, s by r; c unchanged), so the
// next correction does not count the same error twice.
//
// Gauge intervention (ReLU and linear hidden layers, SGD): the network's function is unchanged when layer
// l's weights are scaled by e^{u_l} and its bias by P_l = exp(sum_{k<=l} u_k), with sum_l u_l = 0 over all
// layers (readout included): h_l scales by P_l > 0, so every unit's activity pattern (dead fraction,
// effective rank of the activations) is unchanged while each hidden gain moves by ln gain_sq_l += 2 u_l.
// The intervention chooses u to bring ln gain_sq_l to a target tau_l (0: critical; +-d alternating: away
// from criticality at distance d) in least squares, subject to sum_l u_l = 0 (function) and
// sum_l S_l e^{u_l} = sum_l S_l, S_l = sum |W_l| (mean |W| unchanged), by projected gradient on that
// surface (see gauge_rescale). Each application moves a layer's ln gain by at most GaugeOptions::max_step.
// The rescaling changes no activation pattern, but it does change SGD's dynamics: a layer scaled by e^u
// gets gradients scaled by e^{-u}, its relative updates by e^{-2u}. That is the channel through which the
// distance to criticality can act on plasticity with everything the correlations controlled for held.
// Plain SGD has no state to rescale; Adam's moments would be inconsistent, so it is refused.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <limits>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/enums.h"
#include "critlab/nn/stack.h"
#include "critlab/train/unit_reset.h"

namespace critlab::train {

enum class MaintainerKind { kHomeostasis, kCriticalReinit };

}  // namespace critlab::train
namespace critlab {
CRITLAB_ENUM_NAMES(train::MaintainerKind, "maintainer", {train::MaintainerKind::kHomeostasis, "homeostasis"},
                   {train::MaintainerKind::kCriticalReinit, "critical-reinit"})
}  // namespace critlab
namespace critlab::train {

// Exponential moving averages of every hidden unit's statistics (see above).
class UnitStats {
 public:
  UnitStats(nn::LayerStack& stack, std::int64_t window);
  // One step's hidden pre-activations, one tensor of [units] per hidden layer.
  void observe(const std::vector<at::Tensor>& preactivations);

  struct Unit {
    double mean = 0, sd = 0, c = 0, f = 0;  // bias-corrected E z, sd z, E phi'^2, E h
    double age = 0;
  };
  Unit unit(std::size_t layer, std::int64_t i) const;
  std::size_t layers() const { return acts_.size(); }
  Activation activation(std::size_t layer) const { return acts_[layer]; }
  std::int64_t units(std::size_t layer) const { return static_cast<std::int64_t>(age_[layer].size()); }
  std::int64_t window() const { return window_; }
  // After (W_i, b_i) <- r (W_i, b_i) for ReLU/linear (tanh: approximately): mean and sd scale by r.
  void rescale(std::size_t layer, std::int64_t i, double r);
  // A new unit: its statistics restart.
  void reset(std::size_t layer, std::int64_t i);

  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  std::int64_t window_;
  std::vector<Activation> acts_;
  // per layer, per unit: raw (not bias-corrected) moving averages of z, z^2, phi'^2, h; and age in steps.
  std::vector<std::vector<double>> z_, z2_, c_, h_, age_;
};

struct MaintainerOptions {
  MaintainerKind kind = MaintainerKind::kHomeostasis;
  double rate = 0.1;          // fraction of the log-gain (or activity) error corrected per correction
  double max_step = 0.05;     // bound on |ln r| per correction
  double tolerance = 0.05;    // dead band on |ln g| / 2
  double band = 0.5;          // homeostasis: the activity floor of the gain law
  double silent = 0.01;       // c_i below this: silent
  std::int64_t every = 10;    // steps between corrections
  std::int64_t window = 100;  // statistics' time constant, steps
  double sigma_w = 1.4142135623730951;  // critical re-initialisation scale
  bool IsValid(std::string* error) const;
};

// What corrections did (cumulative; per task in the continual experiment).
struct MaintainerCounts {
  std::int64_t corrections = 0;          // correction rounds
  std::int64_t units_rescaled = 0;       // unit gain corrections (critical-reinit: live units x rounds)
  std::int64_t units_reinitialised = 0;  // critical-reinit's silent units
  std::int64_t backoffs = 0;             // non-finite weights restored from the last finite snapshot
};
nlohmann::json to_json(const MaintainerCounts& c);

class CriticalityMaintainer {
 public:
  CriticalityMaintainer(nn::LayerStack& stack, const MaintainerOptions& options, std::uint64_t seed);
  // After every optimiser step with that step's hidden pre-activations; corrects every `every` steps.
  // Returns true when a correction round ran.
  bool step(nn::LayerStack& stack, const std::vector<at::Tensor>& preactivations,
            const StateReset& reset = {});
  // One correction round now, on the statistics gathered so far (step calls it when due).
  void correct(nn::LayerStack& stack, const StateReset& reset = {});

  // The run backed off (restored finite weights): corrections pause for one window and the rate halves
  // (down to rate / 16).
  void back_off();
  double rate() const { return rate_; }
  const MaintainerCounts& counts() const { return counts_; }
  const UnitStats& stats() const { return stats_; }
  UnitStats& stats() { return stats_; }
  nlohmann::json state() const;
  void restore(const nlohmann::json& state);

 private:
  void homeostasis(nn::LayerStack& stack);
  void critical_reinit(nn::LayerStack& stack, const StateReset& reset);

  MaintainerOptions o_;
  UnitStats stats_;
  double rate_;
  std::int64_t steps_ = 0, paused_until_ = 0;
  std::uint64_t seed_;
  MaintainerCounts counts_;
};

// The gauge intervention's result.
struct GaugeResult {
  bool applied = false;
  std::vector<double> log_scale;                        // u_l per dense layer (readout last)
  std::vector<double> log_gain_before, log_gain_after;  // ln gain_sq_l per hidden layer (predicted after)
  double mean_abs_weight_before = 0, mean_abs_weight_after = 0;
  std::string message;  // why it was not applied
};

// Moves the hidden layers' log gains toward `targets` (one per hidden layer) with the function, the
// activity pattern and mean |W| held fixed, from the current log gains (e.g. UnitStats' mean_i g_i).
// Throws critlab::Error for a stack that is not a plain ReLU/linear MLP.
struct GaugeOptions {
  // Each application aims each hidden layer's ln gain (= ln gain_sq / 2) at most max_step from where it is
  // and moves it by at most 2 max_step (the constraints may carry it past its aim): bounded steps (an
  // unbounded first version put log scales of up to +-5 on layers whose gain could not be moved and made SGD
  // collapse within 20 tasks).
  double max_step = std::numeric_limits<double>::infinity();
  // A layer whose gain_sq is below this (mostly silent units: a rescaling keeps them silent) is left alone.
  double min_gain_sq = 0;
};
GaugeResult gauge_rescale(nn::LayerStack& stack, const std::vector<double>& log_gain_sq,
                          const std::vector<double>& targets, const GaugeOptions& options = {});
// ln gain_sq_l = ln mean_i c_i n_i per hidden layer from the statistics (empty when a layer's units are all
// younger than a window or its gain is 0).
std::optional<std::vector<double>> log_gains(nn::LayerStack& stack, const UnitStats& stats);

}  // namespace critlab::train
