// The dynamic range of a network, in the sense of Kinouchi & Copelli (Nature Physics 2, 348, 2006): how many
// decades of drive its collective response tells apart. Widest at criticality, where weak drives are
// amplified by the network's own propagation and strong ones saturate.
//
// Kinouchi & Copelli's peak needs two things a single feed-forward pass does not have: a stationary state
// (their network runs until the response settles) and self-sustained activity in the supercritical phase,
// which masks weak stimuli. critlab's dynamic range builds both from what the network's layers actually do:
//
//   layer map   For each hidden block l after the first, at the probes' activity h = h_{l-1} (its input), a
//               perturbed copy h' = cos(theta) h + sin(theta) v, v a shuffle of h's units made orthogonal to
//               h and as long, so that h' is as far from h as eps = 1 - cos(theta) = ||h' - h||^2 /
//               (||h'||^2 + ||h||^2) (0 = the same activity, 1 = uncorrelated). The block carries it to
//               eps' = sum_b ||f_l(h'_b) - f_l(h_b)||^2 / sum_b (||f_l(h'_b)||^2 + ||f_l(h_b)||^2), the same
//               measure at its output, on a grid of eps from 1e-6 to 1 (34 sizes). G is the mean of these
//               maps over the blocks. For weak perturbations G(eps) = chi eps with chi the layers'
//               mean-squared Jacobian gain along random directions (chi_1 of mean-field theory for a random
//               network; critical at 1); in the chaotic phase G has a fixed point eps* > 0 (the decorrelation
//               every input settles at).
//   drive       The stationary response of the map driven at rate r (stats/driven_map.h):
//               eps' = (1 - p) G(eps) + p, p = 1 - exp(-r), a fraction p of the state replaced by an
//               uncorrelated one per layer, as if the network were infinitely deep with layers like its own.
//               F(r) = eps_r - eps_0 above the undriven baseline eps_0 (0 in the ordered phase, eps* in the
//               chaotic one), plateau 1 - eps_0, Delta = 10 log10(r_0.9 / r_0.1).
// So Delta reads the network's own layer-to-layer transfer of perturbations, at every size from
// infinitesimal to uncorrelated, and asks what that transfer implies for a driven stationary network: linear
// response below criticality, F ~ r^(1/2) at it, masking above it.
//
// What it detects (tests/measure/dynamic_range_test.cpp, and the closing note of issue 14):
//   - deep tanh MLPs (depth 20, width 256, sigma_b = 0.1): Delta peaks at the mean-field edge of chaos
//     sigma_w* = 1.19 (21.7 dB there, 14.6 dB at sigma_w = 0.6, 17.4-17.9 dB at 1.6-2; deep in chaos most
//     seeds are masked: a baseline within 2% of complete decorrelation, not-found and null);
//   - the map's slope is the mean-field chi_1 of a wide random tanh network;
//   - positively homogeneous blocks (linear, bias-free ReLU) have a scale-free map: sigma_w only rescales
//     norms and eps is blind to it, so every such network would get one Delta. They get a not-applicable
//     status and null, never a number.
// It is not a measurement of a finite-depth pass: measure/input_response.h measures that one (and finds it
// growing into the chaotic phase instead).
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"
#include "critlab/nn/stack.h"

namespace critlab::measure {

struct DynamicRangeOptions {
  // The layer map's grid (stats::map_grid): log-spaced from eps_min to 0.1, then linear to 1 (34 points).
  double eps_min = 1e-6;
  int per_decade = 3;
  double linear_step = 0.05;
  double low = 0.1, high = 0.9;  // response fractions defining the range
  std::int64_t max_inputs = 32;  // probe inputs used (their activity is the operating point); 0 = all
  std::uint64_t seed = 0;        // the shuffles that make the perturbation directions
  // Run the maps in double precision (the parameters converted and restored exactly); false: in the
  // network's own precision, about twice as fast, with the same Delta to 1e-3 dB and slope to 1e-4 (tested;
  // a perturbation of eps = 1e-6 moves activities by 1e-3 of their size, far above float rounding).
  bool double_precision = false;
  bool IsValid(std::string* error) const;
};

struct LayerMap {
  std::size_t index = 0;     // the block
  double slope = 0;          // its eps'/eps at the weakest perturbation
  bool homogeneous = false;  // f(2h) = 2 f(h) to 1e-9: no scale, excluded from G
};

struct DynamicRangeResult {
  std::vector<double> eps, map;  // G on its grid (the mean over the blocks that are not homogeneous)
  std::vector<LayerMap> layers;
  std::optional<double> slope;                // G(eps_1) / eps_1 (critical at 1)
  std::optional<double> baseline, plateau;    // eps_0 and 1 - eps_0
  std::optional<double> rate_low, rate_high;  // drives at the low and high fractions of the plateau
  std::optional<double> delta_db;             // 10 log10(rate_high / rate_low)
  std::vector<double> rates, response;        // F(r)
  // not-applicable (fewer than two hidden blocks, or only homogeneous ones), not-found (no activity, or a
  // baseline at the plateau), non-finite, or ok
  Status status;
  bool ok() const { return status.ok(); }
};

DynamicRangeResult dynamic_range(nn::LayerStack& stack, const at::Tensor& probes,
                                 const DynamicRangeOptions& options = {});

// Whether dynamic_range() runs its maps in double: when asked (double_precision), on a GPU (whose
// convolutions may run in TF32, 1e-3 relative, as coarse as the weakest perturbation) and for networks in
// neither float nor double (half, bfloat16). measure_criticality uses it to share one conversion with the
// branching parameter.
bool dynamic_range_in_double(nn::LayerStack& stack, const at::Tensor& probes,
                             const DynamicRangeOptions& options);

// {delta_db, rate_low, rate_high, baseline, plateau, slope, eps, map, rates, response, per_layer[], status,
// message}; the figures not obtained are null.
nlohmann::json to_json(const DynamicRangeResult& r);

}  // namespace critlab::measure
