// The branching parameter of a network from perturbation spreading (Vock & Meisel's sigma, critical at 1):
// how many units a change at layer l-1 changes at layer l.
//
// A small perturbation delta_0 = eps * sd_0 * g (g ~ N(0, I), sd_0 the probes' RMS) is added to each
// probe input and followed through the stack; delta_l = h_l(x + delta_0) - h_l(x), computed in double
// precision with eps = 1e-8, so it is the linear response J_l ... J_1 delta_0 to about 1e-8.
//   continuous   sigma_l = rms(delta_l) / rms(delta_{l-1}), rms over probes and units (per-unit RMS, so
//   layers
//                of different widths compare); for a linear layer W = g Q with Q orthogonal, sigma_l = g.
//   binarised    a unit counts as changed when |delta_{l,i}| > threshold * eps_l * sd_l, where sd_l is the
//                layer's activity scale (the RMS of h_l over probes and units, sqrt(q_l)) and eps_l the
//                perturbation's relative size at the layer's input, rms(delta_{l-1}) / sd_{l-1}. So
//                sigma_bin_l = n_l / n_{l-1} is descendants over ancestors for one layer step, with the
//                threshold moving with the perturbation (a Benettin-style renormalisation, so a perturbation
//                that shrinks never drops below the threshold altogether). It measures the perturbation
//                relative to the activity's own scale: a linear network has sigma_bin = 1 at any gain,
//                because its activity grows with its perturbations.
//   overall      the geometric mean over hidden layers (readouts excluded) of each.
// For a deep tanh network sigma_l ~ sqrt(chi_1) layer by layer, so sigma crosses 1 at the mean-field edge of
// chaos (tests/measure/branching_test.cpp). The multistep-regression estimator for activity time series is
// stats::estimate_branching_ratio (`critlab branching FILE`).
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

struct BranchingOptions {
  double epsilon = 1e-8;         // the perturbation's size relative to the input's RMS
  double threshold = 1.0;        // a unit is changed above threshold * eps_l * sd_l
  std::int64_t max_inputs = 64;  // probe inputs used; 0 = all
  std::uint64_t seed = 0;        // the perturbation directions
  bool IsValid(std::string* error) const;
};

struct LayerBranching {
  std::size_t index = 0;
  bool readout = false;
  std::optional<double> sigma;         // continuous; empty when the incoming perturbation vanished
  std::optional<double> sigma_binary;  // binarised; empty when no unit changed at the layer's input
  double changed_fraction = 0;         // fraction of (probe, unit) pairs counted as changed at this layer
};

struct BranchingReport {
  std::vector<LayerBranching> layers;
  std::optional<double> sigma, sigma_binary;  // geometric means over hidden layers
  Status status;  // not-found: the perturbation vanished (sigma then 0 is a figure, sigma_binary null)
  bool ok() const { return status.ok(); }
};

BranchingReport branching_parameter(nn::LayerStack& stack, const at::Tensor& probes,
                                    const BranchingOptions& options = {});

// {sigma, sigma_binary, per_layer: [{layer, readout, sigma, sigma_binary, changed_fraction}], status,
// message}.
nlohmann::json to_json(const BranchingReport& r);

}  // namespace critlab::measure
