// Percolation at full resolution, continuity, and finite-size scaling (no libtorch: plain C++).
//
// A weighted graph thresholded at theta keeps the edges with weight >= theta. fine_sweep() adds the edges in
// order of decreasing weight, one weight level at a time (edges of equal weight together), and reads the
// cluster statistics (percolation.h) after every level, so theta_c, the peak width and the largest jump are
// exact, not limited by a grid:
//   theta_c       the weight level at which the susceptibility chi (mean finite-cluster size) is largest;
//   peak_width    the theta span of the contiguous levels around theta_c with chi >= chi_max / 2;
//   p_inf_below   P_inf after the next level below theta_c is added (the connected side, one level on);
//   largest_jump  the largest increase of P_inf caused by one level, and the theta where it happens.
// Continuity (e.g. Nagler, Levina & Timme, Nature Physics 7, 265, 2011): in a continuous (second-order)
// transition the largest one-level jump of P_inf vanishes as N grows (mean-field percolation: ~ N^-1/3);
// in a discontinuous one it stays finite. For one graph, jump_scaled = largest_jump * N^(1/3) is compared
// with the mean-field expectation: above `kContinuityLimit` (the largest value seen for Erdos-Renyi graphs
// of 10^3..10^5 nodes, with a margin; see scaling.cpp) the transition is called discontinuous. Across sizes,
// fit_scaling() on (N, largest_jump) gives the exponent: significantly negative means continuous.
//
// Finite-size scaling: fit_scaling() fits y = a N^b on log-log axes (replicates at one N allowed) with a
// t-interval for b; collapse() finds x_c, 1/nu and beta/nu that make the curves y_k(x) of sizes N_k fall on
// one curve, y N^(beta/nu) against (x - x_c) N^(1/nu), and reports the quality of the collapse.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"
#include "critlab/graph/percolation.h"

namespace critlab::graph {

struct FineSweep {
  // ok; insufficient-data (fewer than 2 nodes or no edge); not-found (chi never rises above 0: the graph
  // is one component at its first level; the jump figures are still set, the peak figures are not). When
  // theta_c is the last (lowest) level the status stays ok, p_inf_below is empty and the message says why.
  Status status;
  std::int64_t nodes = 0, edges = 0, levels = 0;  // distinct weight levels
  std::optional<double> theta_c, chi_max, peak_width, p_inf_below, p_inf_at;
  std::optional<double> largest_jump, theta_jump, jump_scaled;
  std::optional<bool> discontinuous;  // jump_scaled > kContinuityLimit
};
// Erdos-Renyi random-graph processes (one edge per level) give jump_scaled ~0.75 typically and at most 2.57
// in 24,330 graphs of 10^3..10^6 nodes (scaling.cpp has the numbers); 4 leaves a margin of 1.5x. A planted
// jump of P_inf is called discontinuous when it exceeds 4 N^(-1/3): 0.4 at 10^3 nodes, 0.086 at 10^5.
inline constexpr double kContinuityLimit = 4.0;
FineSweep fine_sweep(std::int64_t num_nodes, const std::vector<WeightedEdge>& edges);

// y = a N^b by least squares on (log N, log y); points with N <= 0 or y <= 0 are left out and counted.
struct ScalingFit {
  Status status;  // ok; insufficient-data (fewer than 3 usable points or fewer than 2 distinct N)
  std::optional<double> exponent, exponent_lo, exponent_hi;  // b and its t-interval (n - 2 df)
  std::optional<double> prefactor;                           // a
  std::optional<double> r2;
  std::int64_t points = 0, dropped = 0;
};
ScalingFit fit_scaling(const std::vector<double>& n, const std::vector<double>& y, double level = 0.95);

// One size's curve for a collapse: x ascending, y and (optional, same length or empty) its standard errors.
struct CollapseCurve {
  double size = 0;
  std::vector<double> x, y, y_err;
};
struct CollapseOptions {
  // Search ranges; the optimum is refined by Nelder-Mead from the best point of a coarse grid.
  double x_c_min = 0, x_c_max = 1;
  double inv_nu_min = 0.05, inv_nu_max = 2.0;
  double beta_nu_min = 0.0, beta_nu_max = 2.0;
  // A range with min == max fixes that parameter (it is not searched).
  bool fix_x_c = false;  // keep x_c at `x_c` instead of searching [x_c_min, x_c_max]
  double x_c = 0;        // the fixed x_c when fix_x_c
  // Only points with scaled |x - x_c| N^(1/nu) <= window enter the quality, and a parameter set counts
  // only when every curve has at least 5 of them compared with the other curves, reaching past window/2 on
  // both sides with no gap wider than window/4 (otherwise a large 1/nu "collapses" the curves at one x;
  // scaling.cpp says more). Sample the curves finely enough to resolve the window at the largest size. The
  // grid (41 x_c values, 15 per exponent) must land in the optimum's basin, which is narrow when the errors
  // are small: keep the ranges a few grid steps around the plausible values.
  double window = 2.0;
  bool IsValid(std::string* error) const;
};
struct Collapse {
  // ok (with a caveat in the message when a curve has fewer than 10 points in the window at the optimum);
  // insufficient-data (fewer than 2 non-empty curves, or no parameter set in the box where the points can
  // be compared as `window` requires)
  Status status;
  std::optional<double> x_c, inv_nu, beta_nu;
  // Houdayer & Hartmann's S (PRB 70, 014418, 2004): the mean squared deviation of every point from the
  // other curves' interpolated master curve, in units of the combined errors; ~1 for a good collapse. With
  // no errors given, the errors are 1% of |y| (S is then a relative spread measure).
  std::optional<double> quality;
  std::int64_t points = 0;  // points compared with the master curve at the optimum (0 unless ok)
};
Collapse collapse(const std::vector<CollapseCurve>& curves, const CollapseOptions& options = {});

}  // namespace critlab::graph
