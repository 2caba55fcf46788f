// The stationary response of a driven one-dimensional map, in the sense of Kinouchi & Copelli (Nature
// Physics 2, 348, 2006): the mean-field core of the network dynamic range (measure/dynamic_range.h).
//
// A state eps in [0, 1] (for a network layer: how far a perturbed copy of its activity has moved away from
// the clean one, 0 = identical, 1 = uncorrelated) is carried from layer to layer by a map G, and an external
// drive of rate r replaces a fraction p = 1 - exp(-r) of it by an uncorrelated state at every step:
//
//     eps' = (1 - p) G(eps) + p.
//
// The response is the stationary state above the undriven baseline, F(r) = eps_r - eps_0, where eps_r is the
// state the iteration reaches from eps_0 (the smallest root of (1 - p) G(eps) + p = eps) and eps_0 is the
// stable state without drive: 0 when G(eps) < eps near 0 (an ordered map, slope G'(0) < 1), or the smallest
// positive fixed point of G (a chaotic map, G'(0) > 1: self-sustained decorrelation that masks weak drives).
// The plateau is F(inf) = 1 - eps_0 and Delta = 10 log10(r_0.9 / r_0.1) between the rates where F reaches 10%
// and 90% of it. As in Kinouchi & Copelli's mean field, Delta is largest at G'(0) = 1: an ordered map
// responds linearly to weak drive (F = r / (1 - G'(0))), a critical one as F ~ r^(1/2), and a chaotic one
// only above its baseline.
//
// G is given on a grid eps_1 < ... < eps_n = 1 and taken as piecewise linear through (0, 0) and the grid
// points, so everything is exact for that interpolant: the driven state lies where (1 - p) G(eps) + p - eps
// first changes sign, and the rate needed to reach eps_t is r(eps_t) = -ln(1 - max_{eps <= eps_t} q(eps)),
// q = (eps - G) / (1 - G) (q is monotone on each linear piece, so the maximum is at a grid point or eps_t).
#pragma once
#include <optional>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::stats {

struct DrivenMapOptions {
  double low = 0.1, high = 0.9;  // response fractions defining the range
  double log10_rate_min = -10;   // the response curve's rates (for tables and plots; the range
  double log10_rate_max = 2;     // itself is computed exactly, not read off this grid)
  int rate_points = 97;
  // The smallest plateau 1 - eps_0 read as a range: below it the undriven state is within this much of
  // complete decorrelation, every drive is masked, and a measured map's sampling noise (about
  // 1/sqrt(units * probes) for a network layer) would decide the figures.
  double min_plateau = 0.02;
};

struct DrivenMapResponse {
  double slope = 0;               // G(eps_1) / eps_1: the map's gain for weak perturbations (critical at 1)
  double baseline = 0;            // eps_0
  std::optional<double> plateau;  // 1 - eps_0
  std::optional<double> rate_low, rate_high;  // r_0.1 and r_0.9
  std::optional<double> delta_db;             // 10 log10(rate_high / rate_low)
  std::vector<double> rates, response;        // F(r) on the rate grid
  // not-found (a plateau under min_plateau: every drive is masked; or, where G touches the diagonal exactly,
  // a response that reaches a fraction at zero drive), or ok. A map with several fixed points gets a number:
  // the drive needed to pass the first one.
  Status status;
};

// A grid for a map of eps: `per_decade` points per decade from eps_min up to (not including) 0.1, where only
// the map's slope matters, then steps of `linear_step` from 0.1 to 1, where the 10% and 90% points of the
// response lie (on deep tanh networks this grid's Delta is within 0.1 dB of a 400-point one; a log grid of
// the same size is off by 0.2 dB).
std::vector<double> map_grid(double eps_min, int per_decade, double linear_step);

// `eps` ascending in (0, 1] with eps.back() == 1; `g` the map's values there (finite, >= 0). Throws Error for
// a malformed grid.
DrivenMapResponse driven_map_response(const std::vector<double>& eps, const std::vector<double>& g,
                                      const DrivenMapOptions& options = {});

}  // namespace critlab::stats
