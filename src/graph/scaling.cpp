#include "critlab/graph/scaling.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <numeric>

#include "critlab/core/error.h"
#include "critlab/stats/inference.h"
#include "critlab/stats/special.h"

namespace critlab::graph {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

}  // namespace

// ---- fine_sweep ----
//
// kContinuityLimit (scaling.h) is calibrated on the Erdos-Renyi random-graph process, whose edges arrive one
// at a time (distinct weights, so one edge per level). Its largest one-edge jump of P_inf is, with high
// probability, the merge of two clusters of size ~N^(2/3) in the critical window, so jump * N^(1/3) has a
// distribution that does not depend on N. Calibration (random_graph_process of tests/graph/scaling_test.cpp,
// run to mean degree 2, fixed seeds):
//   N        graphs  median  99%    99.9%  max
//   10^3     20000   0.73    1.77   2.15   2.39
//   10^4      3000   0.77    1.95   2.46   2.57
//   10^5       400   0.81    1.88   -      2.05
// and in a second run to mean degree 3, 300 graphs each at 10^3, 10^4, 10^5 and 30 at 10^6: max 1.78, 2.44,
// 2.47 and 1.95. The tail falls fast (~10x from the 99% to the 99.9% point in 0.4) and does not grow with
// N, so kContinuityLimit = 4, 1.5x the largest of 24,330 values, leaves a wide margin.

FineSweep fine_sweep(std::int64_t n, const std::vector<WeightedEdge>& unsorted) {
  if (n < 0) throw Error(fmt::format("num_nodes must be >= 0, got {}", n));
  for (const auto& e : unsorted) {
    if (e.u < 0 || e.v < 0 || e.u >= n || e.v >= n)
      throw Error(fmt::format("edges: the edge ({}, {}) names a node outside [0, {})", e.u, e.v, n));
    if (std::isnan(e.weight)) throw Error(fmt::format("edges: the edge ({}, {}) has a NaN weight", e.u, e.v));
  }
  FineSweep r;
  r.nodes = n;
  r.edges = static_cast<std::int64_t>(unsorted.size());
  if (n < 2 || unsorted.empty()) {
    r.status = make_status(
        StatusCode::kInsufficientData,
        fmt::format("{} nodes and {} edges; a sweep needs at least 2 nodes and 1 edge", n, unsorted.size()));
    return r;
  }
  std::vector<WeightedEdge> storage;
  const auto& edges = sorted_by_weight(unsorted, storage);
  // One entry per weight level: its weight and the statistics once all its edges are in.
  std::vector<double> weight, p_inf, chi;
  UnionFind uf(n);
  for (std::size_t i = 0; i < edges.size();) {
    const float w = edges[i].weight;
    for (; i < edges.size() && edges[i].weight == w; ++i) uf.unite(edges[i].u, edges[i].v);
    const auto s = cluster_statistics(uf);
    weight.push_back(w);
    p_inf.push_back(s.p_inf);
    chi.push_back(s.susceptibility);
  }
  const std::size_t levels = weight.size();
  r.levels = static_cast<std::int64_t>(levels);
  const double nd = static_cast<double>(n);

  // The largest one-level increase of P_inf, the first level's (from 1/N, every node alone) included.
  double jump = -kInf, previous = 1.0 / nd;
  std::size_t at = 0;
  for (std::size_t l = 0; l < levels; ++l) {
    if (p_inf[l] - previous > jump) jump = p_inf[l] - previous, at = l;
    previous = p_inf[l];
  }
  r.largest_jump = jump;
  r.theta_jump = weight[at];
  r.jump_scaled = jump * std::cbrt(nd);
  r.discontinuous = *r.jump_scaled > kContinuityLimit;

  // The susceptibility peak (the first, i.e. highest-weight, maximum) and its half-height run.
  std::size_t peak = 0;
  for (std::size_t l = 1; l < levels; ++l)
    if (chi[l] > chi[peak]) peak = l;
  if (!(chi[peak] > 0)) {
    r.status = make_status(StatusCode::kNotFound,
                           "the graph is one component from its first weight level on, so the susceptibility "
                           "is 0 throughout and has no peak; the largest jump is still reported");
    return r;
  }
  r.theta_c = weight[peak];
  r.chi_max = chi[peak];
  r.p_inf_at = p_inf[peak];
  std::size_t top = peak, bottom = peak;  // levels in order of decreasing weight
  while (top > 0 && chi[top - 1] >= 0.5 * chi[peak]) --top;
  while (bottom + 1 < levels && chi[bottom + 1] >= 0.5 * chi[peak]) ++bottom;
  r.peak_width = weight[top] - weight[bottom];
  if (peak + 1 < levels)
    r.p_inf_below = p_inf[peak + 1];
  else
    r.status.message =
        "the susceptibility peaks at the last (lowest) weight level, so there is no level below "
        "it and p_inf_below is not defined";
  return r;
}

// ---- fit_scaling ----

ScalingFit fit_scaling(const std::vector<double>& n, const std::vector<double>& y, double level) {
  if (n.size() != y.size())
    throw Error(fmt::format("n and y must have the same length, got {} and {}", n.size(), y.size()));
  if (!(level > 0 && level < 1)) throw Error(fmt::format("level must be in (0, 1), got {}", level));
  ScalingFit f;
  std::vector<double> lx, ly;
  for (std::size_t i = 0; i < n.size(); ++i) {
    if (n[i] > 0 && y[i] > 0 && std::isfinite(n[i]) && std::isfinite(y[i])) {
      lx.push_back(std::log(n[i]));
      ly.push_back(std::log(y[i]));
    } else {
      ++f.dropped;
    }
  }
  f.points = static_cast<std::int64_t>(lx.size());
  auto distinct = lx;
  std::sort(distinct.begin(), distinct.end());
  const auto n_distinct = std::unique(distinct.begin(), distinct.end()) - distinct.begin();
  if (lx.size() < 3 || n_distinct < 2) {
    f.status = make_status(StatusCode::kInsufficientData,
                           fmt::format("{} usable points (N > 0 and y > 0; {} dropped) at {} distinct N; a "
                                       "scaling fit needs at least 3 points and 2 distinct N",
                                       lx.size(), f.dropped, n_distinct));
    return f;
  }
  const double m = static_cast<double>(lx.size());
  const double mx = std::accumulate(lx.begin(), lx.end(), 0.0) / m;
  const double my = std::accumulate(ly.begin(), ly.end(), 0.0) / m;
  double sxx = 0, sxy = 0, syy = 0;
  for (std::size_t i = 0; i < lx.size(); ++i) {
    sxx += (lx[i] - mx) * (lx[i] - mx);
    sxy += (lx[i] - mx) * (ly[i] - my);
    syy += (ly[i] - my) * (ly[i] - my);
  }
  const double b = sxy / sxx, a = my - b * mx;
  double ssr = 0;
  for (std::size_t i = 0; i < lx.size(); ++i) ssr += (ly[i] - a - b * lx[i]) * (ly[i] - a - b * lx[i]);
  const double se = std::sqrt(ssr / (m - 2) / sxx);
  const double t = stats::student_t_quantile(1 - (1 - level) / 2, m - 2);
  f.exponent = b;
  f.exponent_lo = b - t * se;
  f.exponent_hi = b + t * se;
  f.prefactor = std::exp(a);
  if (syy > 0)
    f.r2 = std::max(0.0, 1 - ssr / syy);
  else
    f.status.message = "every y is the same, so r2 (1 - residual / total variation) is undefined";
  return f;
}

// ---- collapse ----

bool CollapseOptions::IsValid(std::string* error) const {
  std::string e;
  const auto finite = [](double v) { return std::isfinite(v); };
  if (!fix_x_c && !(finite(x_c_min) && finite(x_c_max) && x_c_min <= x_c_max))
    e = fmt::format("x_c_min and x_c_max must be finite with x_c_min <= x_c_max, got {} and {}", x_c_min,
                    x_c_max);
  else if (fix_x_c && !finite(x_c))
    e = fmt::format("x_c must be finite when fix_x_c, got {}", x_c);
  else if (!(finite(inv_nu_min) && finite(inv_nu_max) && inv_nu_min > 0 && inv_nu_min <= inv_nu_max))
    e = fmt::format(
        "inv_nu_min and inv_nu_max must be finite with 0 < inv_nu_min <= inv_nu_max, got {} and {}",
        inv_nu_min, inv_nu_max);
  else if (!(finite(beta_nu_min) && finite(beta_nu_max) && beta_nu_min <= beta_nu_max))
    e = fmt::format(
        "beta_nu_min and beta_nu_max must be finite with beta_nu_min <= beta_nu_max, got {} and {}",
        beta_nu_min, beta_nu_max);
  else if (!(finite(window) && window > 0))
    e = fmt::format("window must be finite and > 0, got {}", window);
  if (e.empty()) return true;
  if (error) *error = e;
  return false;
}

namespace {

constexpr int kGrid = 15;                 // coarse-grid points per searched exponent ...
constexpr int kGridXc = 41;               // ... and for x_c, whose basin is narrow (~window / N_max^(1/nu))
constexpr std::size_t kStarts = 5;        // Nelder-Mead runs, from the best grid points
constexpr std::int64_t kMinPoints = 10;   // fewer compared points in all and the quality is not trusted
constexpr std::int64_t kMinPerCurve = 5;  // ... or fewer from any one curve
constexpr double kMaxGap = 0.25;          // the largest scaled gap between a curve's compared points / window
constexpr std::int64_t kFewPoints = 10;   // fewer from one curve at the optimum: a caveat in the message

struct Curve {
  double size = 0;
  std::vector<double> x, y, err;
};

// Houdayer & Hartmann's S at (x_c, 1/nu, beta/nu), with their pooled master curve. Every point of curve k
// with |X| <= window is compared with a master curve made of the other curves only: from every other curve
// whose x range brackets the point, the two points around it, through which a straight line is fitted by
// weighted least squares (weights 1/err^2; with one other curve this is linear interpolation). S is the
// mean over the compared points of (Y - Y_master)^2 / (err^2 + var_master), var_master being the line's
// variance at X.
//
// S is a mean over a set of points that itself depends on the parameters, and a large 1/nu shrinks the
// window, in x, of the large sizes to a few points, where the curves are compared at nearly one x and their
// shapes no longer enter. On Erdos-Renyi P_inf curves of 10^3..10^5 nodes, whose errors (from 40..400
// realisations) are correlated along x, that corner (1/nu ~ 0.6 with ~80 points compared, against ~600 at
// the true 1/3) reached an S as low as the true optimum's and won about one fit in ten. So a parameter set
// counts (S finite) only when every curve has at least kMinPerCurve compared points, reaching past half the
// window on both sides (X <= -window/2 and X >= window/2) with no gap wider than kMaxGap * window between
// them: every size must resolve the scaling function across the window. That pushes the corner back to
// where the largest size still resolves the window (1/nu ~ 0.51 there), and made it lose in all 16 fits with
// 150 realisations per size; with 60 it still won one fit in 8 when x_c was held at 1. A result whose
// smallest per-curve count is low is therefore flagged in the status message (see collapse()). The quality
// is infinite, too, with fewer than kMinPoints points compared in all.
// `compared` (if given) receives the number of compared points, `fewest` the smallest number from one curve.
double quality(const std::vector<Curve>& curves, double x_c, double inv_nu, double beta_nu, double window,
               std::int64_t* compared, std::int64_t* fewest = nullptr) {
  const std::size_t k_curves = curves.size();
  std::vector<double> scale_x(k_curves), scale_y(k_curves);
  for (std::size_t k = 0; k < k_curves; ++k) {
    scale_x[k] = std::pow(curves[k].size, inv_nu);
    scale_y[k] = std::pow(curves[k].size, beta_nu);
  }
  double s = 0;
  std::int64_t count = 0, least = std::numeric_limits<std::int64_t>::max();
  std::vector<std::size_t> next(k_curves);  // per other curve: the first point beyond the current one
  for (std::size_t k = 0; k < k_curves; ++k) {
    const auto& c = curves[k];
    const std::int64_t count_before = count;
    double x_lo = kInf, x_hi = -kInf, gap = 0;
    // The points within the window, from the first found by bisection (X rises with x).
    const auto first = static_cast<std::size_t>(
        std::lower_bound(c.x.begin(), c.x.end(), x_c - window / scale_x[k]) - c.x.begin());
    std::fill(next.begin(), next.end(), 0);
    for (auto i = first; i < c.x.size(); ++i) {
      const double big_x = (c.x[i] - x_c) * scale_x[k];
      if (big_x > window) break;
      if (!(big_x >= -window)) continue;
      // Weighted sums for the line through the neighbours, in X - big_x.
      double kw = 0, kx = 0, kxx = 0, ky = 0, kxy = 0;
      for (std::size_t o = 0; o < k_curves; ++o) {
        const auto& d = curves[o];
        if (o == k || d.x.size() < 2) continue;
        const double x_other = x_c + big_x / scale_x[o];  // the point's X in curve o's x
        if (!(x_other >= d.x.front() && x_other <= d.x.back())) continue;
        auto& j = next[o];  // the bracket [j - 1, j] around x_other; it only moves up as X rises
        if (j == 0)
          j = static_cast<std::size_t>(std::upper_bound(d.x.begin(), d.x.end(), x_other) - d.x.begin());
        while (j < d.x.size() && d.x[j] <= x_other) ++j;
        const std::size_t hi = std::clamp<std::size_t>(j, 1, d.x.size() - 1);
        for (const std::size_t q : {hi - 1, hi}) {
          const double dx = (d.x[q] - x_c) * scale_x[o] - big_x;
          const double yq = d.y[q] * scale_y[o], eq = d.err[q] * scale_y[o];
          const double w = 1 / (eq * eq);
          kw += w, kx += w * dx, kxx += w * dx * dx, ky += w * yq, kxy += w * dx * yq;
        }
      }
      const double det = kw * kxx - kx * kx;
      if (kw == 0 || !(det > 0)) continue;
      const double master = (kxx * ky - kx * kxy) / det;
      const double var_master = kxx / det;
      const double yi = c.y[i] * scale_y[k], ei = c.err[i] * scale_y[k];
      s += (yi - master) * (yi - master) / (ei * ei + var_master);
      ++count;
      if (x_hi > -kInf) gap = std::max(gap, big_x - x_hi);
      x_lo = std::min(x_lo, big_x), x_hi = std::max(x_hi, big_x);
    }
    if (count - count_before < kMinPerCurve || !(x_lo <= -0.5 * window && x_hi >= 0.5 * window) ||
        gap > kMaxGap * window) {
      if (compared) *compared = 0;
      return kInf;
    }
    least = std::min(least, count - count_before);
  }
  if (compared) *compared = count;
  if (fewest) *fewest = least;
  return count >= kMinPoints ? s / static_cast<double>(count) : kInf;
}

}  // namespace

Collapse collapse(const std::vector<CollapseCurve>& input, const CollapseOptions& o) {
  if (std::string err; !o.IsValid(&err)) throw Error(err);
  // The curves, checked, with their errors (1% of |y| where none are given) floored at a tiny fraction of
  // the largest |y| so that no weight is infinite.
  double y_max = 0;
  for (std::size_t k = 0; k < input.size(); ++k) {
    const auto& c = input[k];
    if (!(std::isfinite(c.size) && c.size > 0))
      throw Error(fmt::format("curves: curve {} has size {}; sizes must be finite and > 0", k, c.size));
    if (c.y.size() != c.x.size() || (!c.y_err.empty() && c.y_err.size() != c.x.size()))
      throw Error(
          fmt::format("curves: curve {} has {} x, {} y and {} y_err values; y must match x and y_err "
                      "must match x or be empty",
                      k, c.x.size(), c.y.size(), c.y_err.size()));
    for (std::size_t i = 0; i < c.x.size(); ++i) {
      if (!std::isfinite(c.x[i]) || !std::isfinite(c.y[i]) || (!c.y_err.empty() && !(c.y_err[i] >= 0)) ||
          (!c.y_err.empty() && !std::isfinite(c.y_err[i])))
        throw Error(
            fmt::format("curves: curve {} has a non-finite x or y, or a negative or non-finite y_err, "
                        "at point {}",
                        k, i));
      if (i > 0 && !(c.x[i] > c.x[i - 1]))
        throw Error(fmt::format("curves: curve {} has x not strictly ascending at point {}", k, i));
      y_max = std::max(y_max, std::abs(c.y[i]));
    }
  }
  const double floor = y_max > 0 ? 1e-9 * y_max : std::numeric_limits<double>::min();
  std::vector<Curve> curves;
  for (const auto& c : input) {
    Curve d{c.size, c.x, c.y, {}};
    d.err.resize(c.x.size());
    for (std::size_t i = 0; i < c.x.size(); ++i)
      d.err[i] = std::max(floor, c.y_err.empty() ? 0.01 * std::abs(c.y[i]) : c.y_err[i]);
    if (!d.x.empty()) curves.push_back(std::move(d));
  }
  Collapse r;
  if (curves.size() < 2) {
    r.status =
        make_status(StatusCode::kInsufficientData,
                    fmt::format("{} non-empty curves; a collapse needs at least 2 sizes", curves.size()));
    return r;
  }

  // Parameters in the unit cube: p_i in [0, 1] maps to lo_i + p_i (hi_i - lo_i); fixed ones have lo = hi.
  const std::array<double, 3> lo{o.fix_x_c ? o.x_c : o.x_c_min, o.inv_nu_min, o.beta_nu_min};
  const std::array<double, 3> hi{o.fix_x_c ? o.x_c : o.x_c_max, o.inv_nu_max, o.beta_nu_max};
  std::vector<std::size_t> free;
  for (std::size_t i = 0; i < 3; ++i)
    if (hi[i] > lo[i]) free.push_back(i);
  const auto params = [&](const std::vector<double>& u) {
    std::array<double, 3> p = lo;
    for (std::size_t f = 0; f < free.size(); ++f)
      p[free[f]] = lo[free[f]] + std::clamp(u[f], 0.0, 1.0) * (hi[free[f]] - lo[free[f]]);
    return p;
  };
  const auto objective = [&](const std::vector<double>& u) {
    const auto p = params(u);
    return quality(curves, p[0], p[1], p[2], o.window, nullptr);
  };

  // Coarse grid over the free parameters, then Nelder-Mead from the kStarts best grid points (twice each,
  // the second from the first's optimum): the quality is rough, with infeasible (infinite) regions.
  std::vector<std::pair<double, std::vector<double>>> starts;
  std::vector<int> index(free.size(), 0), points(free.size());
  for (std::size_t f = 0; f < free.size(); ++f) points[f] = free[f] == 0 ? kGridXc : kGrid;
  for (;;) {
    std::vector<double> u(free.size());
    for (std::size_t f = 0; f < free.size(); ++f) u[f] = static_cast<double>(index[f]) / (points[f] - 1);
    const double v = objective(u);
    if (std::isfinite(v)) starts.emplace_back(v, u);
    std::size_t f = 0;
    for (; f < free.size(); ++f) {
      if (++index[f] < points[f]) break;
      index[f] = 0;
    }
    if (f == free.size()) break;
  }
  if (starts.empty()) {
    r.status = make_status(
        StatusCode::kInsufficientData,
        fmt::format(
            "nowhere in the search box could at least {} points within the window ({} from every curve, "
            "reaching past half the window on both sides) be compared with the other curves; widen the "
            "window or the curves' x ranges, or sample the curves more finely",
            kMinPoints, kMinPerCurve));
    return r;
  }
  const std::size_t n_starts = std::min<std::size_t>(kStarts, starts.size());
  std::partial_sort(starts.begin(), starts.begin() + static_cast<std::ptrdiff_t>(n_starts), starts.end(),
                    [](const auto& a, const auto& b) { return a.first < b.first; });
  double best_value = starts.front().first;
  std::vector<double> best = starts.front().second;
  if (!free.empty()) {
    std::vector<double> step(free.size());
    for (std::size_t f = 0; f < free.size(); ++f) step[f] = 1.0 / (points[f] - 1);
    for (std::size_t s0 = 0; s0 < n_starts; ++s0) {
      auto u = starts[s0].second;
      for (int round = 0; round < 2; ++round) {
        double value = kInf;
        bool converged = false;
        u = stats::minimize_nelder_mead(objective, u, step, &value, &converged, 1e-7, 1000);
        for (auto& x : u) x = std::clamp(x, 0.0, 1.0);
        value = objective(u);
        if (value < best_value) best_value = value, best = u;
      }
    }
  }
  const auto p = params(best);
  std::int64_t compared = 0, fewest = 0;
  r.quality = quality(curves, p[0], p[1], p[2], o.window, &compared, &fewest);
  r.points = compared;
  if (fewest < kFewPoints)
    r.status.message = fmt::format(
        "one curve has only {} points compared within the window at the optimum: the collapse may be judged "
        "at nearly one x (see scaling.h, CollapseOptions::window); sample that size more finely near x_c, or "
        "compare with a fit that holds 1/nu lower",
        fewest);
  r.x_c = p[0];
  r.inv_nu = p[1];
  r.beta_nu = p[2];
  return r;
}

}  // namespace critlab::graph
