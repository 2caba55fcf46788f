// Probability flux and entropy production of a stochastic trajectory: the landscape-flux view of a dynamics
// dx = F(x) dt + noise (Wang, Adv. Phys. 2015). In the steady state the density P defines a landscape
// U = -ln P, the probability current J measures the breaking of detailed balance, the drift splits as
// F = D grad ln P + J / P (constant diffusion D), and the entropy production rate is
// e_p = integral J^T D^-1 J / P dx, zero exactly when detailed balance holds.
//
// Everything here works on a sampled trajectory x_0 .. x_{n-1} (n points of d coordinates, spacing dt):
//   - diffusion   D = Cov(x_{t+1} - x_t) / (2 dt), a d x d matrix;
//   - area rate   L_ij = (1 / 2T) sum_t (m_i dx_j - m_j dx_i), m the midpoint of the step (centred on the
//                 mean), T = (n - 1) dt; for an Ornstein-Uhlenbeck process L = (A C - C A^T) / 2;
//   - the grid    on two chosen coordinates, boxes spanning the data; the current of Battle et al. (Science
//                 2016): each crossing of a face between adjacent boxes adds half its displacement to both
//                 boxes, a step that skips boxes is followed along its straight line (every face it crosses
//                 counts); J = (sum of displacements) / (T * box area), P = occupancy / (n * box area);
//   - e_p (grid)  sum over boxes of area * J^T D^-1 J / P. The square is taken across time blocks
//                 (sum over pairs of different blocks k != l of J_k^T D^-1 J_l), so the noise of J adds no
//                 bias: under detailed balance the estimate scatters around 0 and its CI covers 0;
//   - e_p (TUR)   the thermodynamic-uncertainty lower bound sigma >= 2 <J>^2 / (tau Var J), maximised over
//                 the currents J = sum_t g(m_t) . dx_t with g in the linear basis {1, x_1, .., x_d} per
//                 coordinate: the maximum is 2 mu^T S^-1 mu / tau (mu, S: mean and covariance of the
//                 currents over windows of tau), bias-corrected for the number of windows. For linear
//                 (Ornstein-Uhlenbeck) dynamics and short tau the bound is tight (Manikandan, Gupta &
//                 Krishnamurthy, PRL 2020);
//   - the drift decomposition on the grid: the drift F (mean increment / dt per box), its gradient part
//     D grad ln P and its flux part J / P, and their powers (P-weighted mean of |.|^2 in the metric D^-1;
//     the flux part's power is e_p).
// Confidence intervals: bootstrap over contiguous time blocks (resampled with replacement): percentile
// intervals for e_p (grid) and the area rates; for the TUR bound the percentile interval moved by the
// bootstrap's median bias (median - estimate), because repeated blocks shrink the currents' covariance and
// push its bootstrap values up.
// Determinism: the bootstrap draws come from std::mt19937_64(seed).
#pragma once
#include <array>
#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "critlab/core/status.h"

namespace critlab::landscape {

struct FluxOptions {
  double dt = 1;                           // time between samples
  std::array<std::int64_t, 2> pair{0, 1};  // the grid's two coordinates
  std::int64_t bins = 0;                   // boxes per axis; 0 = round(n^(1/4)) within [4, 40]
  std::int64_t min_box_count = 30;  // boxes visited fewer times are left out of e_p and the decomposition
  std::int64_t blocks = 25;         // contiguous time blocks for the cross-block square and the bootstrap
  std::int64_t bootstrap = 400;     // resamples of the blocks (0 = no CIs)
  std::int64_t tur_steps = 1;       // tau of the TUR currents, in samples
  double confidence = 0.95;
  std::uint64_t seed = 1;
  std::int64_t min_points = 100;  // fewer points are refused as bad input

  bool IsValid(std::string* error) const;
};
nlohmann::json to_json(const FluxOptions& o);

using Interval = std::array<double, 2>;

// The 2-D grid: every field is row-major over bins x bins boxes (row = the second coordinate's box).
struct FluxGrid {
  std::array<std::int64_t, 2> pair{0, 1};
  std::int64_t bins = 0;
  std::vector<double> x_edges, y_edges;        // bins + 1 each
  std::vector<double> count;                   // samples in the box
  std::vector<double> density;                 // P
  std::vector<double> jx, jy;                  // the probability current
  std::vector<double> curl;                    // dJy/dx - dJx/dy (central differences; NaN at the border)
  std::vector<double> drift_x, drift_y;        // F (NaN where the box has too few samples)
  std::vector<double> gradient_x, gradient_y;  // D grad ln P
  std::vector<double> flux_x, flux_y;          // J / P
  std::int64_t boxes_used = 0;                 // boxes with at least min_box_count samples
  double coverage = 0;                         // fraction of samples in those boxes
};

struct FluxResult {
  Status status;  // invalid-input for data the estimators cannot use (too few points, a constant coordinate)
  std::int64_t n = 0, d = 0;
  double dt = 0;
  std::vector<std::string> columns;
  std::vector<double> mean;                        // d
  std::vector<double> diffusion;                   // d x d, row-major
  std::vector<double> area_rate;                   // d x d, antisymmetric
  std::vector<double> area_rate_lo, area_rate_hi;  // its CI (empty without bootstrap)
  // Entropy production rates, each with its CI and a status of its own.
  std::optional<double> ep_grid;
  std::optional<Interval> ep_grid_ci;
  Status ep_grid_status;
  std::optional<double> tur_bound;
  std::optional<Interval> tur_ci;
  Status tur_status;
  std::int64_t tur_currents = 0, tur_windows = 0;
  // The drift decomposition on the grid: P-weighted mean |.|^2_{D^-1} of F, D grad ln P and J/P.
  std::optional<double> drift_power, gradient_power, flux_power;
  FluxGrid grid;
  FluxOptions options;

  bool ok() const { return status.ok(); }
};

// `coords[k]` holds coordinate k of the n samples (all of one length). Bad options throw critlab::Error; data
// the estimators cannot use come back with status invalid-input (the command line turns it into an error).
FluxResult analyze_flux(const std::vector<std::vector<double>>& coords, const FluxOptions& options,
                        std::vector<std::string> names = {});

// The stable JSON of `critlab flux`: entropy_production{grid, grid_ci, tur_bound, tur_ci, ...}, area_rate,
// diffusion (d x d nested arrays), n, dt, status, and the rest (grid summary, drift decomposition, options).
nlohmann::json to_json(const FluxResult& r);

// The grid as a table (x, y, count, density, jx, jy, curl, drift_x, ...), one row per box.
std::string grid_csv(const FluxResult& r);

// plots/<stem>.png: the current as arrows over the density (with <stem>.gp and the data beside it).
bool plot_flux(const std::string& dir, const std::string& stem, const FluxResult& r);

}  // namespace critlab::landscape
