// Avalanches in a network's layer stack: the DNN analogue of an absorbing-state transition.
//
// perturbation cascades: for each probe input x, one randomly chosen input unit i is perturbed,
//   x' = x + delta e_i, and both inputs are propagated through the stack. At hidden layer l a unit has
//   "changed" when |h_l(x') - h_l(x)| > threshold * sd_1, sd_1 the standard deviation of the first hidden
//   layer's activations over the probes: one fixed scale for the whole stack. (A scale per layer would be
//   blind to order: where activity and perturbations shrink together layer by layer, their ratio does not
//   change and cascades would never die.) The cascade runs
//   from the first hidden layer and dies at the first layer where no unit changes: size = changed units
//   summed over the layers reached, duration = layers reached, shape = changed units per layer. Cascades that
//   reach the last hidden layer are cut off by the network's depth (counted in `reached_output`).
// activity avalanches over layers: a unit is active when its activation's z-score (mean and sd of that unit
//   over the probes) exceeds `activity_z`; per input, runs of consecutive hidden layers with at least one
//   active unit are avalanches (size = active units in the run, duration = layers in the run).
// Per hidden layer, from the same activity definition: mean active fraction rho_l, its fluctuation sd(rho_l)
// over inputs, and the susceptibility chi_l = N_l Var(rho_l).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "critlab/nn/stack.h"
#include "critlab/stats/branching.h"

namespace critlab::measure {

enum class AvalancheKind { kPerturbation, kActivity };
}  // namespace critlab::measure
namespace critlab {
CRITLAB_ENUM_NAMES(measure::AvalancheKind, "avalanche kind",
                   {measure::AvalancheKind::kPerturbation, "perturbation"},
                   {measure::AvalancheKind::kActivity, "activity"})
}  // namespace critlab
namespace critlab::measure {

struct NetworkAvalancheOptions {
  AvalancheKind kind = AvalancheKind::kPerturbation;
  double perturbation = 1.0;  // delta added to one input unit (input units; the data are standardised)
  double threshold = 0.1;     // changed when |dh| > threshold * sd of the first hidden layer
  double activity_z = 2.0;    // active when the unit's z-score exceeds this
  int repeats = 4;            // perturbed units per probe input
  std::uint64_t seed = 0;
  bool IsValid(std::string* error) const;
};

struct LayerActivity {
  std::size_t index = 0;
  std::int64_t units = 0;
  double mean_active = 0, fluctuation = 0, susceptibility = 0;
};

struct NetworkAvalanches {
  std::vector<stats::Avalanche> avalanches;
  std::int64_t reached_output = 0;  // perturbation cascades cut off by the depth
  std::int64_t died_at_input = 0;   // perturbations that changed no unit of the first hidden layer
  std::vector<LayerActivity> layers;
};

NetworkAvalanches network_avalanches(nn::LayerStack& stack, const at::Tensor& probes,
                                     const NetworkAvalancheOptions& options = {});

nlohmann::json to_json(const LayerActivity& l);

}  // namespace critlab::measure
