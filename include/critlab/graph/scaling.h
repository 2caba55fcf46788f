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
  // is one component at its first level).
  Status status;
  std::int64_t nodes = 0, edges = 0, levels = 0;  // distinct weight levels
  std::optional<double> theta_c, chi_max, peak_width, p_inf_below, p_inf_at;
  std::optional<double> largest_jump, theta_jump, jump_scaled;
  std::optional<bool> discontinuous;  // jump_scaled > kContinuityLimit
};
inline constexpr double kContinuityLimit = 0.0;  // set in scaling.cpp's calibration; see there
FineSweep fine_sweep(std::int64_t num_nodes, std::vector<WeightedEdge> edges);

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
  bool fix_x_c = false;  // keep x_c at x_c_min
  double x_c = 0;        // ... or this value when fix_x_c
  double window = 2.0;   // only scaled |x - x_c| N^(1/nu) <= window enters the quality
  bool IsValid(std::string* error) const;
};
struct Collapse {
  Status status;  // ok; insufficient-data (fewer than 2 curves or too few overlapping points)
  std::optional<double> x_c, inv_nu, beta_nu;
  // Houdayer & Hartmann's S (PRB 70, 014418, 2004): the mean squared deviation of every point from the
  // other curves' interpolated master curve, in units of the combined errors; ~1 for a good collapse. With
  // no errors given, the errors are 1% of |y| (S is then a relative spread measure).
  std::optional<double> quality;
  std::int64_t points = 0;  // point pairs that entered the quality at the optimum
};
Collapse collapse(const std::vector<CollapseCurve>& curves, const CollapseOptions& options = {});

}  // namespace critlab::graph
