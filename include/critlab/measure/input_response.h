// The input-response range of a network: how many decades of a perturbation of its input its last hidden
// layer tells apart, read like a dynamic range (the 10% and 90% points of a saturating response). It answers
// "over which input perturbations does this network respond gradedly?"; it does NOT locate criticality (see
// below): the network dynamic range that does is measure/dynamic_range.h. Off by default in
// measure_criticality (`critlab measure --input-response` turns it on).
//
//   stimulus   a perturbation of relative intensity s added to the input, x_s = x + s u, with u a random
//              Gaussian direction scaled so that ||u|| is the probes' RMS norm (s = 1: as large as the
//              input);
//   response   F(s) = mean_b ||h_L(x_b + s u_b) - h_L(x_b)||_2 / sqrt(N_L), h_L the last hidden layer; the
//              floor is F(0) = 0 exactly (the network is deterministic in eval mode);
//   plateau    F_sat = F(s_max), accepted only when F has stopped growing over the last decade of the scan;
//   range      s_p is where F first reaches p F_sat (log-linear interpolation), 10 log10(s_0.9/s_0.1).
// The scan runs in double precision (the parameters are converted for the call and restored exactly), so
// it reaches s = 1e-12, where a chaotic network's amplification of weak stimuli shows.
//
// What it detects (tests/measure/input_response_test.cpp, and the closing note of issue 14):
//   - a network without a bounded response (linear, or positively homogeneous like bias-free ReLU: F grows
//     as s for large s) has no range: a not-applicable status, never a number (the first input-intensity
//     scan gave such networks 10 log10(9) = 9.54 dB whatever their weights);
//   - on deep tanh MLPs it is NOT maximal at the edge of chaos. It sits near 15-16 dB from the ordered phase
//     up to the edge (the geometry of adding a stimulus to an input: F ~ sqrt(1 - 1/sqrt(1 + s^2)) alone
//     gives 15.6 dB) and grows into the chaotic phase (about 18-19 dB at sigma_w = 2.5-3), where units act
//     like signs and compress the response over many decades. A finite-depth feed-forward pass has no
//     activity without a stimulus, so nothing masks weak stimuli in the chaotic phase; the stationary
//     construction of measure/dynamic_range.h supplies that baseline.
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

struct InputResponseOptions {
  double log10_min = -12;        // smallest stimulus s, decades
  double log10_max = 3;          // largest stimulus s, decades
  int points = 121;              // stimuli, log-spaced (8 per decade by default)
  double low = 0.1, high = 0.9;  // response fractions defining the range
  // The plateau: F changes by less than this fraction over the last decade (a homogeneous network's grows
  // tenfold; a deep tanh network's by under 5%).
  double saturation_tolerance = 0.25;
  std::int64_t max_inputs = 64;  // operating points (probe inputs) used; 0 = all
  // Evaluate the grid lazily: first about one stimulus per decade (with the strongest stimulus and the one a
  // decade below it), then every stimulus of the decade where the response first reaches each of the two
  // fractions of its plateau. The range, its ends, the plateau and the last decade's growth are those of the
  // full grid whenever the response does not rise above a fraction and fall back within one coarse step
  // before its first crossing (tests/measure/input_response_test.cpp compares the two on ordered, critical
  // and chaotic networks); `stimuli` and `response` then hold the stimuli evaluated. false: every stimulus.
  bool adaptive = true;
  std::uint64_t seed = 0;  // the stimulus directions u
  bool IsValid(std::string* error) const;
};

struct InputResponseResult {
  std::vector<double> stimuli, response;  // the response curve F(s), in the network's units (ascending s)
  std::optional<double> plateau;          // F_sat
  std::optional<double> s_low, s_high;    // stimuli at the low and high response fractions
  std::optional<double> delta_db;         // 10 log10(s_high / s_low)
  // How much F still grows over the last decade of the scan: F(s_max) / F(s_max / 10). About 1 when the
  // response saturates; 10 for a response linear in s (a homogeneous network).
  double last_decade_growth = 0;
  Status status;  // not-applicable (no saturation), not-found (a flat response), non-finite, or ok
  bool ok() const { return status.ok(); }
};

InputResponseResult input_response(nn::LayerStack& stack, const at::Tensor& probes,
                                   const InputResponseOptions& options = {});

// {delta_db, s_low, s_high, plateau, last_decade_growth, stimuli, response, status, message}; the figures
// not obtained are null.
nlohmann::json to_json(const InputResponseResult& r);

}  // namespace critlab::measure
