#include "critlab/stats/driven_map.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "critlab/core/error.h"
#include "critlab/stats/curve.h"

namespace critlab::stats {

namespace {

// The map as a piecewise-linear interpolant through (0, 0) and the grid points.
struct Interpolant {
  std::vector<double> x, y;  // x[0] = 0, y[0] = 0

  // The first root in (0, 1] of f(eps) = a G(eps) + b - eps, where f(0) = b > 0 (or b = 0 and f > 0 just
  // above 0); nullopt when f stays positive up to eps = 1.
  std::optional<double> first_root(double a, double b) const {
    for (std::size_t i = 1; i < x.size(); ++i) {
      const double f0 = a * y[i - 1] + b - x[i - 1], f1 = a * y[i] + b - x[i];
      if (f1 > 0) continue;
      // f0 > 0 here (else the previous piece returned), but for f(0) = 0.
      return f0 > f1 ? x[i - 1] + (x[i] - x[i - 1]) * f0 / (f0 - f1) : x[i - 1];
    }
    return std::nullopt;
  }
  double at(double e) const {
    const auto it = std::upper_bound(x.begin(), x.end(), e);
    if (it == x.end()) return y.back();
    const std::size_t i = static_cast<std::size_t>(it - x.begin());
    return y[i - 1] + (y[i] - y[i - 1]) * (e - x[i - 1]) / (x[i] - x[i - 1]);
  }
};

// q(eps) = (eps - G) / (1 - G): the drive fraction p at which eps is a stationary state; where G >= 1 no
// drive can hold the state below 1, so it sets no requirement.
double needed_fraction(double e, double g) { return g < 1 ? (e - g) / (1 - g) : -HUGE_VAL; }

}  // namespace

std::vector<double> map_grid(double eps_min, int per_decade, double linear_step) {
  if (!(eps_min > 0 && eps_min < 0.1) || per_decade < 1 || !(linear_step > 0 && linear_step <= 0.9))
    throw Error("driven map: needs 0 < eps_min < 0.1, at least one point per decade and a step in (0, 0.9]");
  std::vector<double> grid;
  const double decades = std::log10(0.1 / eps_min);
  const int low = static_cast<int>(std::ceil(decades * per_decade - 1e-9));
  for (int i = 0; i < low; ++i) grid.push_back(eps_min * std::pow(10.0, static_cast<double>(i) / per_decade));
  const int steps = static_cast<int>(std::ceil(0.9 / linear_step - 1e-9));
  for (int i = 0; i <= steps; ++i) grid.push_back(0.1 + 0.9 * static_cast<double>(i) / steps);
  grid.back() = 1;
  return grid;
}

DrivenMapResponse driven_map_response(const std::vector<double>& eps, const std::vector<double>& g,
                                      const DrivenMapOptions& options) {
  if (eps.size() < 2 || eps.size() != g.size())
    throw Error("driven map: needs at least two grid points and one value per point");
  for (std::size_t i = 0; i < eps.size(); ++i) {
    if (!(eps[i] > 0 && eps[i] <= 1) || (i > 0 && !(eps[i] > eps[i - 1])))
      throw Error("driven map: the grid must rise strictly within (0, 1]");
    if (!std::isfinite(g[i]) || g[i] < 0) throw Error("driven map: the map's values must be finite and >= 0");
  }
  if (eps.back() != 1) throw Error("driven map: the grid must end at eps = 1");
  if (!(0 < options.low && options.low < options.high && options.high < 1) || options.rate_points < 2 ||
      !(options.log10_rate_max > options.log10_rate_min) ||
      !(options.min_plateau > 0 && options.min_plateau < 1))
    throw Error("driven map: needs 0 < low < high < 1, a rate grid and a minimum plateau in (0, 1)");

  Interpolant m;
  m.x.push_back(0);
  m.y.push_back(0);
  m.x.insert(m.x.end(), eps.begin(), eps.end());
  m.y.insert(m.y.end(), g.begin(), g.end());

  DrivenMapResponse r;
  r.slope = g.front() / eps.front();
  // Baseline: the state the undriven map settles in from an infinitesimal perturbation.
  if (r.slope > 1) r.baseline = m.first_root(1.0, 0.0).value_or(1.0);
  const double e0 = r.baseline, span = 1 - e0;
  if (!(span >= options.min_plateau)) {
    r.status = make_status(
        StatusCode::kNotFound,
        fmt::format("the undriven map settles at eps_0 = {:.4f}, within {:g} of complete decorrelation: the "
                    "self-sustained decorrelation masks every drive (deep in the chaotic phase)",
                    e0, options.min_plateau));
    return r;
  }
  r.plateau = span;
  // The response curve.
  r.rates = log_grid(std::pow(10.0, options.log10_rate_min), std::pow(10.0, options.log10_rate_max),
                     options.rate_points);
  for (double rate : r.rates) {
    const double p = -std::expm1(-rate);
    r.response.push_back(std::max(0.0, m.first_root(1 - p, p).value_or(1.0) - e0));
  }
  // The range, exactly: the rate needed to reach each fraction of the plateau.
  auto rate_for = [&](double fraction) -> std::optional<double> {
    const double target = e0 + fraction * span;
    double p = needed_fraction(target, m.at(target));
    for (std::size_t i = 0; i < eps.size() && eps[i] < target; ++i)
      p = std::max(p, needed_fraction(eps[i], g[i]));
    if (!(p > 0) || !(p < 1)) return std::nullopt;
    return -std::log1p(-p);
  };
  r.rate_low = rate_for(options.low);
  r.rate_high = rate_for(options.high);
  if (!r.rate_low || !r.rate_high) {
    r.status = make_status(StatusCode::kNotFound,
                           "the response jumps past a fraction of its plateau at zero drive (a discontinuous "
                           "map): no range");
    r.rate_low.reset();
    r.rate_high.reset();
    return r;
  }
  r.delta_db = 10 * std::log10(*r.rate_high / *r.rate_low);
  return r;
}

}  // namespace critlab::stats
