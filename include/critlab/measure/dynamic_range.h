// Dynamic range of a network's response (Kinouchi & Copelli, Nature Physics 2006).
//
// Inputs x are scaled by s over several decades; the response is the mean displacement of the last hidden
// representation from its response to the null input,
//     F(s) = mean_b ||h_L(s x_b) - h_L(0)||_2 / sqrt(N_L).
// With F_low = F(s_min) and F_high = F(s_max), s_p is where F first reaches F_low + p (F_high - F_low)
// (log-linear interpolation), and the dynamic range is Delta = 10 log10(s_0.9 / s_0.1) in decibels.
// A response that is linear over the whole scan gives 10 log10(9) = 9.54 dB; saturation compresses it.
#pragma once
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <string>
#include <vector>

#include "critlab/core/status.h"
#include "critlab/nn/stack.h"

namespace critlab::measure {

struct DynamicRangeOptions {
  double log10_min = -3;         // smallest input scale, decades
  double log10_max = 3;          // largest input scale, decades
  int points = 61;               // scales, log-spaced
  double low = 0.1, high = 0.9;  // response fractions defining the range
  std::int64_t max_inputs = 64;  // probe inputs used; 0 = all
  bool IsValid(std::string* error) const;
};

struct DynamicRangeResult {
  std::vector<double> scales, response;    // the response curve
  double s_low = 0, s_high = 0;            // scales at the low and high response fractions
  double delta_db = 0;                     // 10 log10(s_high / s_low)
  Status status;                           // not-found when the response is flat (no range defined); the
  bool ok() const { return status.ok(); }  // three figures above are the result only when ok
};

DynamicRangeResult dynamic_range(nn::LayerStack& stack, const at::Tensor& probes,
                                 const DynamicRangeOptions& options = {});

nlohmann::json to_json(const DynamicRangeResult& r);

}  // namespace critlab::measure
